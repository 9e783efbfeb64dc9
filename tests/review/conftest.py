"""A job stack for change reviews: a real git repo as project root, real Redis, a real arq worker, the fake API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from personas.registry import PersonaRegistry
from personas.runtime import LLMConfig, RunLimits, RunToolbox
from tests.conftest import wait_for
from tests.fakes.anthropic_api import FakeAnthropic
from tests.personas.helpers import FakeSearch
from tests.review.gitrepo import make_repo
from worker.app import build_worker
from worker.dismissals import DismissalStore
from worker.models import JobState, JobStatus
from worker.options import JobOptions
from worker.queue import JobQueue, make_pool
from worker.service import JobService
from worker.store import JobStore
from worker.tasks import WorkerDeps


@dataclass
class ReviewStack:
    repo: Path
    service: JobService
    store: JobStore
    deps: WorkerDeps
    dismissals: DismissalStore

    async def finished(self, job_id: str, timeout: float = 30.0) -> JobState:
        async def probe() -> JobState | None:
            job = await self.store.get(job_id)
            return job if job is not None and job.status.terminal else None

        return await wait_for(probe, timeout=timeout, what=f"job {job_id} to finish")

    async def running(self, job_id: str) -> JobState:
        async def probe() -> JobState | None:
            job = await self.store.get(job_id)
            return job if job is not None and job.status is JobStatus.RUNNING else None

        return await wait_for(probe, what=f"job {job_id} to run")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def review_stack(redis_url: str, fake_api: FakeAnthropic, tmp_path: Path) -> Callable[..., Any]:
    """``async with review_stack(repo) as stack``: service and worker rooted in ``repo``."""

    @asynccontextmanager
    async def make(repo: Path, *, api_key: str | None = "sk-test", **service_kwargs: Any) -> AsyncIterator[ReviewStack]:
        llm = LLMConfig(api_key=api_key, base_url=fake_api.base_url, max_retries=0, timeout_seconds=20)
        personas = PersonaRegistry.load(tmp_path / "no-custom-personas")
        db_path = tmp_path / "data" / "jobs.sqlite3"
        async with AsyncExitStack() as stack:
            store = await stack.enter_async_context(JobStore.open(db_path))
            dismissals = await DismissalStore.attach(store.db)
            pool = make_pool(redis_url)
            stack.push_async_callback(pool.aclose)
            service = JobService(
                store,
                JobQueue(pool, redis_url),
                personas,
                max_context_chars=200_000,
                project_root=repo,
                dismissals=dismissals,
                **service_kwargs,
            )
            worker_store = await stack.enter_async_context(JobStore.open(db_path))
            deps = WorkerDeps(
                store=worker_store,
                personas=personas,
                llm=llm,
                job_timeout_seconds=30,
                options=JobOptions(lease_seconds=3.0),
                toolbox=RunToolbox(project_root=repo, search=FakeSearch(), limits=RunLimits(max_seconds=25)),
                dismissals=await DismissalStore.attach(worker_store.db),
            )
            worker = build_worker(redis_url, deps, concurrency=4, poll_interval=0.02)
            task = asyncio.create_task(worker.async_run())
            try:
                yield ReviewStack(repo, service, store, deps, dismissals)
            finally:
                await worker.close()
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    return make
