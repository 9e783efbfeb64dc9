"""Never lost, never stuck: dead workers, lost queue entries, late re-deliveries, shutdowns."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.jobs.conftest import JobHarness
from worker.models import JobStatus
from worker.queue import QUEUE_NAME

PERSONAS_BIN = str(Path(sys.executable).with_name("personas"))


async def _orphan_running(jobs: JobHarness, job_id: str, lease: float = 0.3) -> None:
    """Make the job look like a worker claimed it and then died (its lease lapses in ``lease`` s)."""
    assert await jobs.store.claim(job_id, owner="ghost:1:dead", lease_seconds=lease, queue_job_id=job_id)


async def test_job_of_a_dead_worker_is_rerun_on_a_live_one(jobs: JobHarness) -> None:
    job_id = await jobs.submit()
    await _orphan_running(jobs, job_id)
    async with jobs.worker(options=jobs.options.__class__(lease_seconds=0.6)):
        job = await jobs.until(job_id)
    assert job.status is JobStatus.COMPLETE, job.error
    assert job.attempts == 2 and job.lease_owner != "ghost:1:dead"
    assert job.queue_job_id == f"{job_id}:r1"


async def test_job_whose_workers_keep_dying_fails_with_the_reason(jobs: JobHarness) -> None:
    job_id = await jobs.submit()
    await _orphan_running(jobs, job_id)
    async with jobs.worker(options=jobs.options.__class__(lease_seconds=0.6, max_attempts=1)):
        job = await jobs.until(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert "died 1 time" in job.error and "ghost:1:dead" in job.error and "last seen" in job.error
    assert "PERSONAS_JOB_MAX_ATTEMPTS=1" in job.error


async def test_late_redelivery_of_a_finished_job_is_a_no_op(jobs: JobHarness, fake_api: FakeAnthropic) -> None:
    async with jobs.worker() as worker:
        done = await jobs.until(await jobs.submit())
        calls = len(fake_api.requests)
        # arq delivers the original job id again (e.g. after its in-progress key expired).
        await jobs.queue.enqueue(done.id, "normal", queue_job_id=f"{done.id}:late")

        async def delivered() -> bool:
            return not await jobs.pool.zscore(QUEUE_NAME, f"{done.id}:late")

        await wait_for(delivered, what="the late delivery to be consumed")
        other = await jobs.until(await jobs.submit(task="after"))  # the worker moved on
    assert other.status is JobStatus.COMPLETE
    unchanged = {"lease_expires_at"}  # released by the worker after `done` was read: bookkeeping only
    assert (await jobs.job(done.id)).model_dump(exclude=unchanged) == done.model_dump(exclude=unchanged)
    assert len(fake_api.requests) == calls + 1
    assert worker.worker_id == done.lease_owner


async def test_graceful_worker_shutdown_hands_the_job_back(jobs: JobHarness, fake_api: FakeAnthropic) -> None:
    slow = fake.text("slow")
    slow.delay = 10
    fake_api.add(slow)
    job_id = await jobs.submit()
    async with jobs.worker():
        await wait_for(lambda: _requests(fake_api, 1), what="the first model call")
    requeued = await jobs.job(job_id)
    assert requeued.status is JobStatus.PENDING and requeued.lease_owner is None
    assert "worker shut down" in (requeued.progress_message or "")
    async with jobs.worker():
        job = await jobs.until(job_id)
    assert job.status is JobStatus.COMPLETE and job.attempts == 2


async def test_pending_jobs_whose_queue_was_lost_are_enqueued_again(jobs: JobHarness, redis_url: str) -> None:
    """The embedded Redis starts empty after a server restart; SQLite still has the pending jobs."""
    async with jobs.worker():
        done = await jobs.until(await jobs.submit(task="from before"))
    pending = [await jobs.submit(task=f"pending {i}") for i in range(3)]
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    async with jobs.worker():
        finished = [await jobs.until(job_id) for job_id in pending]
    assert [j.status for j in finished] == [JobStatus.COMPLETE] * 3
    assert all(j.queue_job_id and ":q" in j.queue_job_id for j in finished)
    unchanged = {"lease_expires_at"}  # released by the worker after `done` was read: bookkeeping only
    assert (await jobs.job(done.id)).model_dump(exclude=unchanged) == done.model_dump(exclude=unchanged)


async def _requests(api: FakeAnthropic, n: int) -> bool:
    return len(api.requests) >= n


def _worker_env(project: Path, data_dir: Path, redis_url: str, api: FakeAnthropic, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_")) and k != "REDIS_URL"}
    env.update(
        PERSONAS_PROJECT_ROOT=str(project),
        PERSONAS_DATA_DIR=str(data_dir),
        REDIS_URL=redis_url,
        ANTHROPIC_API_KEY="sk-test",
        ANTHROPIC_BASE_URL=api.base_url,
        PERSONAS_LLM_MAX_RETRIES="0",
        PERSONAS_QUEUE_POLL_INTERVAL="0.02",
        PERSONAS_EMBEDDER="hashing",
        PERSONAS_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


async def test_sigkilled_worker_process_job_completes_on_another_worker(
    make_jobs: Callable[..., Any], fake_api: FakeAnthropic, redis_url: str, project: Path, tmp_path: Path
) -> None:
    slow = fake.text("the killed worker never sees this")
    slow.delay = 3
    fake_api.add(slow)
    lease = 1.0
    async with make_jobs(lease_seconds=lease) as jobs:
        job_id = await jobs.submit()
        env = _worker_env(project, jobs.db_path.parent, redis_url, fake_api, PERSONAS_JOB_LEASE_SECONDS=str(lease))
        with subprocess.Popen([PERSONAS_BIN, "worker"], env=env, stderr=subprocess.DEVNULL) as proc:
            try:
                running = await jobs.until(job_id, JobStatus.RUNNING, timeout=30)
                await wait_for(lambda: _requests(fake_api, 1), what="the subprocess's model call")
                assert running.lease_owner is not None and f":{proc.pid}:" in running.lease_owner
                proc.send_signal(signal.SIGKILL)
                await asyncio.to_thread(proc.wait, 10)
            finally:
                if proc.poll() is None:
                    proc.kill()
        async with jobs.worker():
            job = await jobs.until(job_id, timeout=15)
    assert job.status is JobStatus.COMPLETE, job.error
    assert job.attempts == 2 and f":{proc.pid}:" not in (job.lease_owner or "")
