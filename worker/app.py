"""Build an arq Worker for persona jobs (in-process for the embedded default, or standalone)."""

from __future__ import annotations

from typing import Any

from arq import Worker
from arq.worker import func

from worker.queue import QUEUE_NAME, RUN_FUNCTION, redis_settings
from worker.tasks import WorkerDeps, run_persona_job


def build_worker(
    redis_url: str,
    deps: WorkerDeps,
    *,
    concurrency: int,
    poll_interval: float,
    handle_signals: bool = False,
    burst: bool = False,
) -> Worker:
    ctx: dict[str, Any] = {"deps": deps}
    return Worker(
        functions=[func(run_persona_job, name=RUN_FUNCTION, max_tries=3)],
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
        ctx=ctx,
    )
