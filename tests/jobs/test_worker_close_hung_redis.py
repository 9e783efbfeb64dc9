"""A worker closing while a job runs and its Redis has stopped answering (hung, paused, partitioned:
here SIGSTOP): the close ends by itself, each wait on Redis bounded (worker/arq_compat.py), and the
job is handed back in the job store. arq's connections have no read timeout, and arq catches the
cancellation of a job's task and then waits, shielded, on Redis to finish the job."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

import pytest
import redis

from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.jobs.test_recovery import _requests
from tests.redis_process import redis_process
from worker.models import JobStatus

HANG_BOUND = 90.0  # seconds: never reached when every wait is bounded (3 waits of 5 s)


@pytest.fixture
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of this test's own: it is paused (SIGSTOP), which the session's shared one must not be."""
    with redis_process(tmp_path_factory.mktemp("own-redis")) as url:
        yield url


async def test_a_worker_closes_by_itself_when_redis_hangs_under_a_running_job(
    make_jobs: Callable[..., Any], fake_api: FakeAnthropic, redis_url: str
) -> None:
    slow = fake.text("the closed worker never sees this")
    slow.delay = 120  # a hang bound: the fake ends it early when it shuts down
    fake_api.add(slow)
    client = redis.Redis.from_url(redis_url)
    info: dict[str, Any] = client.info("server")  # type: ignore[assignment]  # sync client: a dict
    redis_pid = int(info["process_id"])
    client.close()
    async with make_jobs() as jobs:
        job_id = await jobs.submit(task="review app.py")

        async def run_then_close() -> None:
            async with jobs.worker():
                await jobs.until(job_id, JobStatus.RUNNING, timeout=60)
                await wait_for(lambda: _requests(fake_api, 1), what="the worker's model call")
                os.kill(redis_pid, signal.SIGSTOP)  # Redis stops answering under the running job

        try:
            await asyncio.wait_for(run_then_close(), HANG_BOUND)  # the close used to wait for ever
        finally:
            with suppress(ProcessLookupError):
                os.kill(redis_pid, signal.SIGCONT)
        handed_back = await jobs.job(job_id)
    assert handed_back.status is JobStatus.PENDING and handed_back.lease_owner is None, handed_back
