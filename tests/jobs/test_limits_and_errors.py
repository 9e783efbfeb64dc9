"""LLM error storms (retried, then success or a failure with the reason) and the daily job limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.jobs.conftest import JobHarness
from worker.errors import JobRequestError, QueueUnavailableError
from worker.models import JobStatus
from worker.queue import JobQueue, make_pool
from worker.service import JobService, utc_day


def _busy(status: int) -> fake.Reply:
    kind = "overloaded_error" if status == 529 else "rate_limit_error"
    return fake.error(status, kind, "busy", retry_after=0.02)


async def test_429_529_storm_is_retried_then_succeeds(make_jobs: Callable[..., Any], fake_api: FakeAnthropic) -> None:
    fake_api.add(_busy(529), _busy(429), _busy(529), fake.text("Review after the storm."))
    async with make_jobs(llm_retries=3) as jobs, jobs.worker():
        job = await jobs.until(await jobs.submit())
    assert job.status is JobStatus.COMPLETE, job.error
    assert "after the storm" in (job.result or "")
    assert len(fake_api.requests) == 4


async def test_storm_longer_than_the_retries_fails_with_the_reason(
    make_jobs: Callable[..., Any], fake_api: FakeAnthropic
) -> None:
    fake_api.add(*[_busy(529) for _ in range(3)])
    async with make_jobs(llm_retries=2) as jobs, jobs.worker():
        job = await jobs.until(await jobs.submit())
    assert job.status is JobStatus.FAILED
    assert job.error is not None and "529" in job.error and "after 2 retries" in job.error
    assert len(fake_api.requests) == 3


async def test_permanent_error_fails_fast_without_retries(
    make_jobs: Callable[..., Any], fake_api: FakeAnthropic
) -> None:
    fake_api.add(fake.error(401, "authentication_error", "invalid x-api-key"))
    async with make_jobs(llm_retries=3) as jobs, jobs.worker():
        job = await jobs.until(await jobs.submit())
    assert job.status is JobStatus.FAILED
    assert job.error is not None and "401" in job.error and "ANTHROPIC_API_KEY" in job.error
    assert len(fake_api.requests) == 1


async def test_daily_limit_per_persona(make_jobs: Callable[..., Any]) -> None:
    async with make_jobs(daily_job_limit=2) as jobs:
        await jobs.submit("security")
        await jobs.submit("security")
        with pytest.raises(JobRequestError, match=r"Daily limit reached.*PERSONAS_DAILY_JOB_LIMIT=2.*00:00 UTC"):
            await jobs.submit("security")
        await jobs.submit("qa")  # other personas have their own budget
        assert (await jobs.service.list_jobs()).total_count == 3


async def test_invokes_refused_because_redis_is_down_do_not_count_against_the_limit(
    make_jobs: Callable[..., Any],
) -> None:
    async with make_jobs(daily_job_limit=1) as jobs:
        dead_url = "redis://127.0.0.1:1/0"
        dead_pool = make_pool(dead_url)
        try:
            down = JobService(
                jobs.store, JobQueue(dead_pool, dead_url), jobs.personas, max_context_chars=1000, options=jobs.options
            )
            for _ in range(2):
                with pytest.raises(QueueUnavailableError):
                    await down.submit("security", "review app.py")
        finally:
            await dead_pool.aclose()
        listed = await jobs.service.list_jobs(status="failed")
        assert listed.filtered_count == 2, "the refused invokes are recorded as failed jobs"
        await jobs.submit("security")  # Redis is back: the day's one job is still available
        with pytest.raises(JobRequestError, match="Daily limit reached"):
            await jobs.submit("security")


async def test_reset_does_not_lift_the_daily_limit(make_jobs: Callable[..., Any]) -> None:
    async with make_jobs(daily_job_limit=2) as jobs:
        harness: JobHarness = jobs
        await harness.submit("security")
        await harness.submit("security")
        result = await harness.service.reset()
        assert result.jobs_deleted == 2
        with pytest.raises(JobRequestError, match="Daily limit reached"):
            await harness.submit("security")
        assert await harness.store.accepted("security", utc_day(time.time())) == 2


async def test_reset_deletes_the_transcripts_with_the_jobs(
    make_jobs: Callable[..., Any], fake_api: FakeAnthropic
) -> None:
    fake_api.add(fake.text("Review: the password is compared in plain text."))
    async with make_jobs() as jobs:
        harness: JobHarness = jobs
        async with harness.worker():
            done = await harness.until(await harness.submit("security", "review app.py"))
        assert done.status is JobStatus.COMPLETE
        assert await harness.store.conversation(done.id) is not None, "a finished run keeps its transcript"
        await harness.service.reset()
        assert await harness.store.conversation(done.id) is None
        assert await harness.store.conversation_count() == 0
