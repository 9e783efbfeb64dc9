"""Retention: delete old finished jobs, reclaim the space, remember when it last ran.

Completed jobs go after PERSONAS_RETENTION_DAYS_COMPLETE, failed and cancelled ones after
PERSONAS_RETENTION_DAYS_FAILED (they are kept longer: they are what you debug). Pending and running
jobs are never touched. Runs hourly as an arq cron job in every worker; a Redis lock makes
concurrent runs (several workers, a slow run overlapping the next) skip rather than pile up, and
each delete is idempotent anyway.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.models import JobStatus
from worker.options import JobOptions
from worker.store import JobStore
from worker.tasks import deps_from

log = logging.getLogger(__name__)

LOCK_KEY = "agent-personas:retention-lock"
LOCK_SECONDS = 900
VACUUM_MIN_FREE_BYTES = 1024 * 1024
VACUUM_MIN_FREE_SHARE = 0.2
DAY = 86_400.0


@dataclass(frozen=True)
class RetentionReport:
    deleted: int
    vacuumed: bool
    ran_at: float


def next_cleanup(now: float) -> datetime:
    """When the hourly cron runs next (minute 0)."""
    current = datetime.fromtimestamp(now, UTC).replace(minute=0, second=0, microsecond=0)
    return current + timedelta(hours=1)


async def apply_retention(store: JobStore, options: JobOptions, now: float | None = None) -> RetentionReport:
    now = time.time() if now is None else now
    deleted = await store.delete_finished_before([JobStatus.COMPLETE], now - options.retention_days_complete * DAY)
    deleted += await store.delete_finished_before(
        [JobStatus.FAILED, JobStatus.CANCELLED], now - options.retention_days_failed * DAY
    )
    vacuumed = False
    if deleted:
        free = await store.free_bytes()
        if free >= VACUUM_MIN_FREE_BYTES or free >= VACUUM_MIN_FREE_SHARE * max(1, (await store.size_bytes())):
            await store.vacuum()
            vacuumed = True
    await store.set_meta({"last_cleanup": repr(now), "last_cleanup_deleted": str(deleted)})
    if deleted:
        log.info("retention: deleted %d old jobs%s", deleted, " and vacuumed" if vacuumed else "")
    return RetentionReport(deleted=deleted, vacuumed=vacuumed, ran_at=now)


async def retention_cron(ctx: dict[str, Any]) -> int:
    """The arq cron job. Returns how many jobs it deleted (-1: another worker holds the lock)."""
    deps = deps_from(ctx)
    redis = ctx["redis"]
    if not await redis.set(LOCK_KEY, deps.worker_id, nx=True, ex=LOCK_SECONDS):
        return -1
    try:
        return (await apply_retention(deps.store, deps.options)).deleted
    finally:
        await redis.delete(LOCK_KEY)
