"""The job system without the MCP layer: a real Redis, real SQLite, real arq workers, the fake API.

``jobs`` gives a :class:`JobHarness`: the server side (JobService on its own store connection) and
``harness.worker()`` to run in-process workers (each on its own connection, like separate processes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis

from personas.registry import PersonaRegistry
from personas.runtime import LLMConfig
from tests.conftest import wait_for
from tests.fakes.anthropic_api import FakeAnthropic
from worker.app import build_worker
from worker.models import JobState, JobStatus
from worker.options import JobOptions
from worker.queue import JobQueue, make_pool
from worker.service import JobService
from worker.store import JobStore
from worker.tasks import WorkerDeps

TEST_OPTIONS = JobOptions(lease_seconds=3.0, orphan_grace_seconds=0.5, webhook_backoff_seconds=0.05)


@dataclass
class JobHarness:
    redis_url: str
    db_path: Path
    store: JobStore
    pool: ArqRedis
    service: JobService
    personas: PersonaRegistry
    llm: LLMConfig
    options: JobOptions
    workers: list[WorkerDeps] = field(default_factory=list)

    @property
    def queue(self) -> JobQueue:
        return self.service.queue

    @asynccontextmanager
    async def worker(
        self, *, concurrency: int = 10, options: JobOptions | None = None, timeout: float = 60.0
    ) -> AsyncIterator[WorkerDeps]:
        """An in-process worker with its own SQLite connection; stopped (gracefully) on exit."""
        chosen = options or self.options
        async with JobStore.open(self.db_path, webhooks=chosen.webhook_url is not None) as store:
            deps = WorkerDeps(
                store=store,
                personas=self.personas,
                llm=self.llm,
                job_timeout_seconds=timeout,
                options=options or self.options,
            )
            worker = build_worker(self.redis_url, deps, concurrency=concurrency, poll_interval=0.02)
            task = asyncio.create_task(worker.async_run())
            self.workers.append(deps)
            try:
                yield deps
            finally:
                await worker.close()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def submit(self, persona: str = "security", task: str = "review app.py", **kwargs: Any) -> str:
        return (await self.service.submit(persona, task, **kwargs)).job_id

    async def job(self, job_id: str) -> JobState:
        job = await self.store.get(job_id)
        assert job is not None, job_id
        return job

    async def until(self, job_id: str, *statuses: JobStatus, timeout: float = 60.0) -> JobState:
        wanted = set(statuses) or {JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED}

        async def probe() -> JobState | None:
            job = await self.job(job_id)
            return job if job.status in wanted else None

        return await wait_for(probe, timeout=timeout, what=f"job {job_id} to be {'/'.join(sorted(wanted))}")


@pytest.fixture
def make_jobs(redis_url: str, fake_api: FakeAnthropic, tmp_path: Path) -> Callable[..., Any]:
    """``async with make_jobs(**option_overrides) as harness``."""

    @asynccontextmanager
    async def make(*, llm_retries: int = 0, **overrides: Any) -> AsyncIterator[JobHarness]:
        options = replace(TEST_OPTIONS, **overrides)
        llm = LLMConfig(api_key="sk-test", base_url=fake_api.base_url, max_retries=llm_retries, timeout_seconds=20)
        personas = PersonaRegistry.load(tmp_path / "no-custom-personas")
        db_path = tmp_path / "data" / "jobs.sqlite3"
        async with AsyncExitStack() as stack:
            store = await stack.enter_async_context(JobStore.open(db_path, webhooks=options.webhook_url is not None))
            pool = make_pool(redis_url)
            stack.push_async_callback(pool.aclose)
            service = JobService(store, JobQueue(pool, redis_url), personas, max_context_chars=200_000, options=options)
            yield JobHarness(redis_url, db_path, store, pool, service, personas, llm, options)

    return make


@pytest.fixture
async def jobs(make_jobs: Callable[..., Any]) -> AsyncIterator[JobHarness]:
    async with make_jobs() as harness:
        yield harness
