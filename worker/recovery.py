"""Never lost, never stuck: the recovery loop every worker runs.

- **Reaper.** A running job whose lease lapsed (its worker was killed, or froze) is put back on the
  queue under a new delivery id ``<id>:r<attempt>`` while attempts remain, else failed with the
  reason. The stale delivery is taken off the queue, so arq never re-delivers it; if it still did,
  the claim in the store would refuse it (lease held or job terminal).
- **Orphan sweep.** A pending job whose queue entry is gone (embedded Redis restarted, Redis lost
  its data, enqueue failed after a re-queue) is enqueued again. Runs at worker start with no grace.
- **Webhook outbox.** Terminal jobs whose webhook is still ``pending`` are delivered.

Every step is one conditional update in SQLite, so all workers can run the loop at once: for each
job exactly one wins, the others see ``rowcount == 0`` and move on.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from standards.db import STORE_ERRORS
from worker import events
from worker.errors import QueueUnavailableError
from worker.models import JobState, iso_utc
from worker.options import JobOptions
from worker.queue import JobQueue
from worker.store import JobStore
from worker.webhook import WebhookSender

log = logging.getLogger(__name__)

_PASSING: tuple[type[BaseException], ...] = (RedisError, QueueUnavailableError, *STORE_ERRORS)


class Recovery:
    def __init__(
        self,
        store: JobStore,
        queue: JobQueue,
        options: JobOptions,
        *,
        redis: Redis,
        webhooks: WebhookSender | None = None,
    ) -> None:
        self.store = store
        self.queue = queue
        self.options = options
        self.redis = redis
        self.webhooks = webhooks

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.options.reaper_interval_seconds)
            await self.run_once()

    async def run_once(self, *, orphan_grace: float | None = None) -> None:
        """One pass of every step; errors are logged and the next pass tries again."""
        grace = self.options.orphan_grace_seconds if orphan_grace is None else orphan_grace
        for step in (self.reap_expired, lambda: self.requeue_orphans(grace), self.deliver_webhooks):
            try:
                await step()
            except _PASSING as exc:
                log.warning("recovery step failed (will retry): %s", exc)
            except Exception:
                # A bug must not stop the loop that keeps jobs from getting stuck.
                log.exception("recovery step crashed (will retry)")

    async def reap_expired(self) -> int:
        now = time.time()
        handled = 0
        for job in await self.store.expired_leases(now):
            if job.attempts < self.options.max_attempts:
                handled += await self._requeue(job, now)
            else:
                handled += await self._fail(job, now)
        return handled

    async def _requeue(self, job: JobState, now: float) -> int:
        delivery = f"{job.id}:r{job.attempts}"
        who = job.lease_owner or "an unknown worker"
        message = f"Re-queued: {who} stopped responding (run {job.attempts} of {self.options.max_attempts})"
        if not await self.store.requeue_expired(job.id, queue_job_id=delivery, now=now, message=message):
            return 0
        log.warning("job %s: lease of %s lapsed; re-queued as %s", job.id, who, delivery)
        if job.queue_job_id:
            await self.queue.discard(job.queue_job_id)
        await self.queue.enqueue(job.id, job.priority, queue_job_id=delivery, since=job.created_at)
        await events.publish(self.redis, job.id, "requeued")
        return 1

    async def _fail(self, job: JobState, now: float) -> int:
        seen = job.lease_expires_at - self.options.lease_seconds if job.lease_expires_at else job.started_at
        error = (
            f"The worker running this job died {job.attempts} time{'s' if job.attempts != 1 else ''} "
            f"(PERSONAS_JOB_MAX_ATTEMPTS={self.options.max_attempts}); last seen {iso_utc(seen)} on "
            f"{job.lease_owner or 'an unknown worker'}. Invoke the persona again; if this repeats, check the "
            "worker logs (out of memory? killed by a deploy?)."
        )
        failed = await self.store.fail_expired(job.id, now=now, error=error)
        if failed:
            log.warning("job %s failed: %s", job.id, error)
            await events.publish(self.redis, job.id, "failed")
        return int(failed)

    async def requeue_orphans(self, grace: float) -> int:
        now = time.time()
        jobs = await self.store.pending_queued_before(now - grace)
        if not jobs:
            return 0
        waiting = await self.queue.waiting([job.queue_job_id or job.id for job in jobs])
        handled = 0
        for job, ok in zip(jobs, waiting, strict=True):
            if ok:
                continue
            delivery = f"{job.id}:q{uuid.uuid4().hex[:8]}"
            if await self.store.move_queue_entry(job.id, old=job.queue_job_id, new=delivery, now=now):
                await self.queue.enqueue(job.id, job.priority, queue_job_id=delivery, since=job.created_at)
                log.info("job %s was pending without a queue entry; enqueued again as %s", job.id, delivery)
                handled += 1
        return handled

    async def deliver_webhooks(self) -> int:
        if self.webhooks is None:
            return 0
        started = 0
        for job_id in await self.store.pending_webhooks():
            started += await self.webhooks.claim_and_schedule(job_id)
        return started
