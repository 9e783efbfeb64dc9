"""Priority: high before normal before low, FIFO within a level, whichever worker picks them up."""

from __future__ import annotations

from tests.fakes.anthropic_api import FakeAnthropic
from tests.jobs.conftest import JobHarness


async def test_high_job_enqueued_behind_many_normal_ones_starts_first(
    jobs: JobHarness, fake_api: FakeAnthropic
) -> None:
    low = await jobs.submit(task="low one", priority="low")
    normal = [await jobs.submit(task=f"normal {i}") for i in range(6)]
    high = await jobs.submit(task="urgent", priority="high")

    async with jobs.worker(concurrency=1):
        finished = [await jobs.until(job_id) for job_id in [low, *normal, high]]

    assert all(job.status == "complete" for job in finished)
    order = [job.id for job in sorted(finished, key=lambda j: j.started_at or 0)]
    assert order == [high, *normal, low]
    # The fake saw the tasks in the same order: one run at a time, high first.
    seen = [r["messages"][0]["content"] for r in fake_api.requests]
    assert "urgent" in str(seen[0]) and "low one" in str(seen[-1])
