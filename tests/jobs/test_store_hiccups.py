"""A database hiccup during a run (a Postgres restart, a lost connection) does not fail the job:
progress is best effort, the transcript and the result are retried until the store answers."""

from __future__ import annotations

import asyncio
from typing import Any

from standards.db import StoreError
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.jobs.conftest import JobHarness
from worker.app import build_worker
from worker.models import JobFinish, JobStatus
from worker.store import JobStore
from worker.tasks import WorkerDeps


class HiccupStore(JobStore):
    """Fails the first call of each of these writes, as a store whose server just restarted."""

    FLAKY = ("update_progress", "save_conversation", "finish")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failed: list[str] = []

    def _hiccup(self, name: str) -> None:
        if name not in self.failed:
            self.failed.append(name)
            raise StoreError(f"PostgreSQL at 127.0.0.1:5432: ConnectionDoesNotExistError during {name}")

    async def update_progress(self, *args: Any, **kwargs: Any) -> bool:
        self._hiccup("update_progress")
        return await super().update_progress(*args, **kwargs)

    async def save_conversation(self, *args: Any, **kwargs: Any) -> None:
        self._hiccup("save_conversation")
        await super().save_conversation(*args, **kwargs)

    async def finish(self, job_id: str, update: JobFinish, *, owner: str | None = None) -> bool:
        self._hiccup("finish")
        return await super().finish(job_id, update, owner=owner)


async def test_a_run_rides_out_store_hiccups_and_completes(jobs: JobHarness, fake_api: FakeAnthropic) -> None:
    fake_api.add(fake.text("Review: nothing to report."))
    async with JobStore.open(jobs.db_path) as plain:
        store = HiccupStore(plain.db)
        deps = WorkerDeps(
            store=store, personas=jobs.personas, llm=jobs.llm, job_timeout_seconds=60, options=jobs.options
        )
        worker = build_worker(jobs.redis_url, deps, concurrency=2, poll_interval=0.02)
        task = asyncio.create_task(worker.async_run())
        try:
            done = await jobs.until(await jobs.submit(task="review app.py"))
        finally:
            await worker.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert done.status is JobStatus.COMPLETE, done.error
    assert done.attempts == 1 and "Review: nothing to report." in (done.result or "")
    assert set(store.failed) == set(HiccupStore.FLAKY)
    assert await jobs.store.conversation(done.id) is not None
