"""cancel_persona_job: running jobs stop within a second keeping their partial result; pending jobs
never start; finished jobs are left alone."""

from __future__ import annotations

import pytest

from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.jobs.conftest import JobHarness
from worker.errors import UnknownJobError
from worker.models import JobFinish, JobStatus


async def test_cancel_running_job_stops_it_fast_and_keeps_the_partial_result(
    jobs: JobHarness, fake_api: FakeAnthropic
) -> None:
    slow = fake.text("never delivered")
    slow.delay = 20
    fake_api.add(fake.tool_use("list_files", {"pattern": "*.py"}, preface="Session handling looks fragile."), slow)
    async with jobs.worker() as worker:
        job_id = await jobs.submit()

        async def second_call_in_flight() -> bool:
            job = await jobs.job(job_id)
            return len(fake_api.requests) == 2 and "fragile" in (job.partial_result or "")

        await jobs.until(job_id, JobStatus.RUNNING)
        from tests.conftest import wait_for

        await wait_for(second_call_in_flight, what="the run to be waiting on its second model call")
        result = await jobs.service.cancel(job_id)
        calls_at_cancel = len(fake_api.requests)
        job = await jobs.job(job_id)

        assert result.cancelled and result.status is JobStatus.CANCELLED
        assert result.message.startswith("Job cancelled after")
        assert "not confirmed" not in result.message  # the worker let go before cancel returned
        assert "Session handling looks fragile." in (result.partial_result or "")
        assert job.status is JobStatus.CANCELLED and job.partial_result == result.partial_result
        assert job.lease_owner == worker.worker_id and job.lease_expires_at is None  # run stopped
        # The worker stays healthy: the next job runs, and the cancelled one made no further calls.
        other = await jobs.until(await jobs.submit(task="next"))
    assert other.status is JobStatus.COMPLETE
    assert len(fake_api.requests) == calls_at_cancel + 1
    assert (await jobs.job(job_id)).status is JobStatus.CANCELLED


async def test_cancel_pending_job_means_it_never_starts(jobs: JobHarness, fake_api: FakeAnthropic) -> None:
    job_id = await jobs.submit(task="cancel me")
    result = await jobs.service.cancel(job_id)
    assert result.cancelled and result.status is JobStatus.CANCELLED
    assert "before it started" in result.message and result.partial_result is None

    async with jobs.worker():
        later = await jobs.until(await jobs.submit(task="run me"))
    job = await jobs.job(job_id)
    assert later.status is JobStatus.COMPLETE
    assert job.status is JobStatus.CANCELLED and job.started_at is None and job.attempts == 0
    assert ["cancel me" not in str(r["messages"]) for r in fake_api.requests] == [True]


async def test_cancel_finished_job_changes_nothing(jobs: JobHarness) -> None:
    async with jobs.worker():
        finished = await jobs.until(await jobs.submit())
    done = await jobs.job(finished.id)  # as the stopped worker left it (lease released)
    result = await jobs.service.cancel(done.id)
    after = await jobs.job(done.id)
    assert not result.cancelled and result.status is JobStatus.COMPLETE
    assert "already complete" in result.message and "nothing was changed" in result.message
    assert after == done


async def test_cancel_unknown_job_is_a_clear_error(jobs: JobHarness) -> None:
    with pytest.raises(UnknownJobError, match="No job with id 'nope'"):
        await jobs.service.cancel("nope")


async def test_cancelled_job_is_immutable_even_if_the_worker_finishes_late(jobs: JobHarness) -> None:
    """A worker that never heard of the cancel (no abort reached it) cannot overwrite it."""
    job_id = await jobs.submit()
    claimed = await jobs.store.claim(job_id, owner="w-deaf", lease_seconds=30, queue_job_id=job_id)
    assert claimed is not None
    await jobs.service.cancel(job_id, confirm_seconds=0.1)
    assert not await jobs.store.finish(job_id, JobFinish(status=JobStatus.COMPLETE, result="late"), owner="w-deaf")
    assert not await jobs.store.renew_lease(job_id, owner="w-deaf", lease_seconds=30)  # heartbeat stops it
    assert (await jobs.job(job_id)).status is JobStatus.CANCELLED
