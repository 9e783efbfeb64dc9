"""PostgreSQL restarting under a running server: a clear error while it is down, then jobs again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.postgres_process import postgres_server as throwaway_postgres
from worker.errors import JobStorageError
from worker.models import JobState
from worker.queue import JobQueue, make_pool
from worker.service import JobService
from worker.store import JobStore


async def test_a_postgres_restart_is_a_clear_error_then_passes(
    make_jobs: Callable[..., Any], postgres_server: str
) -> None:
    """While PostgreSQL is down, invoke says so (the address, no password); once it is back the
    same store (its pool reconnects) accepts jobs again, and history written before is intact."""
    with throwaway_postgres() as server:  # our own: this test stops and starts it
        url = server.url.replace("postgres@", "postgres:not-shown@")
        async with make_jobs() as harness, JobStore.open(url) as store:
            before = JobState(persona="qa", task="before the outage")
            await store.insert(before)
            pool = make_pool(harness.redis_url)
            service = JobService(
                store, JobQueue(pool, harness.redis_url), harness.personas, max_context_chars=1000,
                options=harness.options,
            )  # fmt: skip
            try:
                server.stop()
                with pytest.raises(JobStorageError) as down:
                    await service.submit("security", "review app.py")
                server.start()

                async def accepted() -> str | None:
                    try:
                        return (await service.submit("security", "review app.py")).job_id
                    except JobStorageError:
                        return None

                job_id = await wait_for(accepted, timeout=30, what="invoke to work once PostgreSQL is back")
            finally:
                await pool.aclose()
            assert await store.get(before.id) is not None and await store.get(job_id) is not None
    message = str(down.value)
    assert f"127.0.0.1:{server.port}" in message and "not-shown" not in message
