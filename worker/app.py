"""Build an arq Worker for persona jobs (in-process for the embedded default, or standalone).

Besides running jobs, every worker runs the recovery loop (reaper, orphan sweep, webhook outbox;
see worker/recovery.py) and the hourly retention cron. It survives Redis outages: it keeps
reconnecting (with backoff) instead of dying, so the system recovers on its own when Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq import Worker
from arq.cron import cron
from arq.worker import func
from redis.exceptions import RedisError

from worker.arq_compat import close_worker, dumps, loads
from worker.queue import QUEUE_NAME, RUN_FUNCTION, JobQueue, redis_settings
from worker.recovery import Recovery
from worker.retention import retention_cron
from worker.tasks import WorkerDeps, deps_from, run_persona_job
from worker.webhook import WebhookSender

log = logging.getLogger(__name__)

RECONNECT_MIN_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 5.0


class PersonaWorker(Worker):
    """arq's Worker, but a lost Redis connection means "retry", not "exit"."""

    async def main(self) -> None:
        delay = RECONNECT_MIN_SECONDS
        while True:
            try:
                await super().main()
                return
            except (OSError, RedisError) as exc:
                log.warning("worker: Redis unavailable (%s); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def close(self) -> None:
        """arq's close, made to always finish (see worker/arq_compat.py)."""
        await close_worker(self, _on_shutdown)


def build_worker(
    redis_url: str,
    deps: WorkerDeps,
    *,
    concurrency: int,
    poll_interval: float,
    handle_signals: bool = False,
    burst: bool = False,
    embedded: bool = False,
) -> Worker:
    ctx: dict[str, Any] = {"deps": deps, "redis_url": redis_url, "embedded": embedded}
    return PersonaWorker(
        functions=[func(run_persona_job, name=RUN_FUNCTION, max_tries=3)],
        cron_jobs=[
            # Hourly; arq gives each run a unique id, so one worker runs it even when many enqueue it.
            cron(retention_cron, name="personas-retention", minute=0, second=0, timeout=900, max_tries=1),
        ],
        queue_name=QUEUE_NAME,
        redis_settings=redis_settings(redis_url),
        max_jobs=concurrency,
        # The persona run enforces the job timeout itself and records partial results;
        # arq's own timeout is a backstop a little later.
        job_timeout=deps.job_timeout_seconds + 30,
        poll_delay=poll_interval,
        keep_result=60,
        handle_signals=handle_signals,
        allow_abort_jobs=True,
        burst=burst,
        job_serializer=dumps,
        job_deserializer=loads,
        on_startup=_on_startup,
        on_shutdown=_on_shutdown,
        ctx=ctx,
    )


async def _on_startup(ctx: dict[str, Any]) -> None:
    """Runs each time the worker (re)connects to Redis; starts the recovery loop once."""
    task = ctx.get("recovery_task")
    if isinstance(task, asyncio.Task) and not task.done():
        return
    deps = deps_from(ctx)
    if deps.options.webhook_url and "webhooks" not in ctx:
        ctx["webhooks"] = WebhookSender(deps.store, deps.options)
    webhooks = ctx.get("webhooks")
    recovery = Recovery(
        deps.store,
        JobQueue(ctx["redis"], ctx["redis_url"], embedded=bool(ctx.get("embedded"))),
        deps.options,
        redis=ctx["redis"],
        webhooks=webhooks if isinstance(webhooks, WebhookSender) else None,
    )
    # Pending jobs whose queue entry was lost (e.g. the embedded Redis restarted with the server)
    # are enqueued again right away; then the loop keeps watching.
    await recovery.run_once(orphan_grace=0)
    ctx["recovery_task"] = asyncio.create_task(recovery.run_forever(), name="personas-recovery")
    log.info("worker %s ready (lease %.1f s)", deps.worker_id, deps.options.lease_seconds)


async def _on_shutdown(ctx: dict[str, Any]) -> None:
    task = ctx.pop("recovery_task", None)
    if isinstance(task, asyncio.Task):
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    webhooks = ctx.pop("webhooks", None)
    if isinstance(webhooks, WebhookSender):
        await webhooks.aclose()
