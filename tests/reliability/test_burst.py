"""A burst of 100 invocations through the MCP server, run by the server's in-process worker and a
second worker on the same Redis and job database: every job completes, exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp import Client

from mcp_server.app import open_worker_deps
from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.reliability.helpers import call, count_with_status, finished, first_user_text, invoke
from worker.app import build_worker
from worker.store import JobStore
from worker.tasks import WorkerDeps

BURST = 100


@asynccontextmanager
async def second_worker(settings: Settings, redis_url: str) -> AsyncIterator[WorkerDeps]:
    """What `personas worker` runs, in this process: its own store connection, its own worker id."""
    async with open_worker_deps(settings) as deps:
        worker = build_worker(
            redis_url, deps, concurrency=settings.worker_concurrency, poll_interval=settings.queue_poll_interval
        )
        task = asyncio.create_task(worker.async_run())
        try:
            yield deps
        finally:
            await worker.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_burst_of_100_jobs_on_two_workers_runs_each_exactly_once(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    def answer(request: dict[str, Any]) -> fake.Reply:
        reply = fake.text(f"Done: {first_user_text(request).splitlines()[1]}")
        reply.delay = 0.05
        return reply

    fake_api.default = answer
    settings = make_settings(
        redis_url=redis_url,
        anthropic_api_key="sk-test",
        anthropic_base_url=fake_api.base_url,
        worker_concurrency=10,
    )
    async with Client(build_server(settings)) as client, second_worker(settings, redis_url) as other:
        ids = [await invoke(client, f"burst job {i}", persona="qa") for i in range(BURST)]
        reports = await asyncio.gather(*(finished(client, job_id, timeout=60) for job_id in ids))
        stats = await call(client, "persona_database_stats")
        leftover = await count_with_status(client, "pending") + await count_with_status(client, "running")

    assert [r["status"] for r in reports] == ["complete"] * BURST
    assert all(f"Done: burst job {i}" in r["result"] for i, r in enumerate(reports))
    assert leftover == 0
    assert stats["jobs_by_status"]["complete"] == BURST and stats["total_jobs"] == BURST
    # Exactly once: one model call per job, one run (attempt) per job, and both workers took a share.
    tasks = Counter(first_user_text(r).splitlines()[1] for r in fake_api.requests)
    assert len(fake_api.requests) == BURST and set(tasks.values()) == {1}, tasks.most_common(3)
    async with JobStore.open(settings.jobs_db_path) as store:
        jobs, _ = await store.list_jobs(limit=BURST)
    assert {j.attempts for j in jobs} == {1}
    owners = Counter(j.lease_owner for j in jobs)
    assert len(owners) == 2 and other.worker_id in owners, owners
