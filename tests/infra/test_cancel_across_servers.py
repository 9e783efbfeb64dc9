"""A cancel reaches the job's own worker whichever server (or CLI) sends it; when it cannot, the reply
says when the job will stop instead of claiming it stopped."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from mcp_server.app import open_app
from mcp_server.embedded import embedded_redis
from mcp_server.settings import Settings
from mcp_server.state import AppState
from personas.registry import PersonaRegistry
from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.jobs.conftest import JobHarness
from tests.redis_process import redis_process
from worker.models import JobStatus
from worker.queue import JobQueue, make_pool
from worker.service import JobService
from worker.store import JobStore


def _slow(api: FakeAnthropic) -> None:
    slow = fake.text("never delivered")
    slow.delay = 30
    api.add(slow)


async def _running(state: AppState, job_id: str) -> None:
    async def probe() -> bool:
        job = await state.jobs.store.get(job_id)
        return job is not None and job.status is JobStatus.RUNNING

    await wait_for(probe, what=f"job {job_id} to run")


async def test_cancel_through_a_second_server_stops_the_run_on_the_shared_embedded_redis(
    make_settings: Callable[..., Settings], fake_api: FakeAnthropic
) -> None:
    _slow(fake_api)
    settings = make_settings(anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url)
    personas = PersonaRegistry.load(settings.personas_dir)
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(open_app(settings, personas, watch=False))
        # The second server's job side, opened as open_app opens it (its index is not the point here).
        second_url = await stack.enter_async_context(embedded_redis(settings.data_dir))
        assert second_url == first.redis_url  # one embedded Redis per project: the second server joined it
        store = await stack.enter_async_context(JobStore.open(settings.jobs_db_path))
        pool = make_pool(second_url)
        stack.push_async_callback(pool.aclose)
        second = JobService(store, JobQueue(pool, second_url, embedded=True), personas, max_context_chars=1000)
        job_id = (await first.jobs.submit("qa", "review app.py")).job_id
        await _running(first, job_id)
        result = await second.cancel(job_id)
        job = await store.get(job_id)
    assert result.cancelled and result.message.startswith("Job cancelled after"), result.message
    assert job is not None and job.status is JobStatus.CANCELLED
    assert job.lease_expires_at is None  # the run had stopped when the reply said so


async def test_personas_jobs_cancel_finds_the_running_servers_redis(
    make_settings: Callable[..., Settings], fake_api: FakeAnthropic, project: Path
) -> None:
    _slow(fake_api)
    settings = make_settings(anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url)
    personas = PersonaRegistry.load(settings.personas_dir)
    async with open_app(settings, personas, watch=False) as state:
        job_id = (await state.jobs.submit("qa", "review app.py")).job_id
        await _running(state, job_id)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_", "REDIS_"))}
        env.update(PERSONAS_PROJECT_ROOT=str(project), PERSONAS_EMBEDDER="hashing")
        proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("personas")),
            "jobs",
            "cancel",
            job_id,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        job = await state.jobs.store.get(job_id)
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert text.startswith("Job cancelled after") and "no Redis found" not in text, text
    assert job is not None and job.status is JobStatus.CANCELLED and job.lease_expires_at is None


async def test_a_cancel_that_cannot_reach_the_worker_says_when_it_will_stop(
    make_jobs: Callable[..., Any], fake_api: FakeAnthropic, tmp_path: Path
) -> None:
    _slow(fake_api)
    async with make_jobs(lease_seconds=30.0) as jobs:
        harness: JobHarness = jobs
        async with harness.worker():
            job_id = await harness.submit()
            await harness.until(job_id, JobStatus.RUNNING)
            # A server on another Redis (misconfigured REDIS_URL): it shares the database, not the queue.
            with redis_process(tmp_path) as other_url:
                pool = make_pool(other_url)
                try:
                    other = JobService(
                        harness.store,
                        JobQueue(pool, other_url),
                        harness.personas,
                        max_context_chars=1000,
                        options=harness.options,
                    )
                    result = await other.cancel(job_id, confirm_seconds=0.2)
                finally:
                    await pool.aclose()
            assert result.cancelled and "not stopped yet" in result.message, result.message
            assert "lease heartbeat, within 10 s" in result.message

            async def released() -> bool:
                job = await harness.job(job_id)
                return job.lease_expires_at is None

            await wait_for(released, timeout=30, what="the worker to stop at its heartbeat")
