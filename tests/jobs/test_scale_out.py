"""Several workers on one Redis and one job database share the load; every job runs exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.jobs.conftest import JobHarness
from worker.models import JobStatus


async def test_two_workers_share_the_load_and_run_each_job_once(jobs: JobHarness, fake_api: FakeAnthropic) -> None:
    def answer(request: dict[str, object]) -> fake.Reply:
        reply = fake.text(f"done: {request['messages']}")
        reply.delay = 0.15
        return reply

    fake_api.default = answer
    job_ids = [await jobs.submit(task=f"job {i}") for i in range(40)]
    async with jobs.worker(concurrency=8) as one, jobs.worker(concurrency=8) as two:
        finished = await asyncio.gather(*(jobs.until(job_id) for job_id in job_ids))

    assert [j.status for j in finished] == [JobStatus.COMPLETE] * 40
    assert all(j.attempts == 1 for j in finished)
    owners = Counter(j.lease_owner for j in finished)
    assert set(owners) == {one.worker_id, two.worker_id}, owners
    # Exactly one model call per job: nothing ran twice.
    tasks = Counter(str(r["messages"][0]["content"]).split("job ")[1].split()[0] for r in fake_api.requests)
    assert len(fake_api.requests) == 40 and set(tasks.values()) == {1}
