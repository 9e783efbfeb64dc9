"""Server restart with jobs in flight (running and queued), on the embedded default: the private
Redis and its queue die with the server, SQLite keeps the jobs. After the restart every job ends
complete (re-run) or failed with a reason; none stays pending or running."""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import wait_for
from tests.fakes.anthropic_api import FakeAnthropic
from tests.reliability.helpers import SlowThenFast, count_with_status, finished, first_user_text, invoke
from worker.models import JobState, JobStatus
from worker.store import JobStore

PERSONAS_BIN = str(Path(sys.executable).with_name("personas"))
LEASE = 1.5
RUNNING, QUEUED = 2, 4


async def _in_flight(client: Client, api: FakeAnthropic) -> None:
    async def probe() -> bool:
        return len(api.requests) >= RUNNING and await count_with_status(client, "running") == RUNNING

    await wait_for(probe, timeout=30, what=f"{RUNNING} jobs running with their model call in flight")


async def _jobs(db_path: Path) -> dict[str, JobState]:
    async with JobStore.open(db_path) as store:
        jobs, _ = await store.list_jobs(status=None, persona=None, limit=100)
    return {job.id: job for job in jobs}


def _calls_per_task(api: FakeAnthropic) -> Counter[str]:
    return Counter(first_user_text(r).split("\n")[1] for r in api.requests)


@pytest.mark.parametrize("max_attempts", [3, 1], ids=["rerun", "attempts-used-up"])
async def test_graceful_restart_with_jobs_running_and_queued(
    make_settings: Callable[..., Settings], fake_api: FakeAnthropic, max_attempts: int
) -> None:
    reply = SlowThenFast()
    fake_api.default = reply
    settings = make_settings(
        anthropic_api_key="sk-test",
        anthropic_base_url=fake_api.base_url,
        worker_concurrency=RUNNING,
        job_lease_seconds=LEASE,
        job_max_attempts=max_attempts,
    )
    async with Client(build_server(settings)) as client:
        ids = [await invoke(client, f"restart job {i}") for i in range(RUNNING + QUEUED)]
        await _in_flight(client, fake_api)
    # The server is gone: nothing may be left "running" for a worker that no longer exists.
    between = await _jobs(settings.jobs_db_path)
    assert set(between) == set(ids)
    statuses = Counter(job.status for job in between.values())
    if max_attempts > 1:
        assert statuses == {JobStatus.PENDING: RUNNING + QUEUED}, statuses
    else:
        assert statuses == {JobStatus.PENDING: QUEUED, JobStatus.FAILED: RUNNING}, statuses
    handed_back = {job.id for job in between.values() if job.started_at is not None}
    assert len(handed_back) == RUNNING

    reply.fast = True
    async with Client(build_server(settings)) as client:
        reports = {job_id: await finished(client, job_id) for job_id in ids}
    final = await _jobs(settings.jobs_db_path)

    for job_id, report in reports.items():
        if job_id in handed_back and max_attempts == 1:
            assert report["status"] == "failed", report
            assert "worker stopped while running this job" in report["error"]
            assert "PERSONAS_JOB_MAX_ATTEMPTS=1" in report["error"]
        else:
            assert report["status"] == "complete", report
            assert "Review done for" in report["result"]
    if max_attempts > 1:
        assert all(final[j].attempts == 2 for j in handed_back)
    assert all(final[j].attempts == 1 for j in set(ids) - handed_back)
    # Each queued job reached the model once; each interrupted one once more per re-run, never more.
    calls = _calls_per_task(fake_api)
    expected_reruns = RUNNING if max_attempts > 1 else 0
    assert len(fake_api.requests) == RUNNING + QUEUED + expected_reruns, calls
    assert max(calls.values()) <= 2


def _serve_env(project: Path, api: FakeAnthropic) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_")) and k != "REDIS_URL"}
    env.update(
        PERSONAS_PROJECT_ROOT=str(project),
        PERSONAS_QUEUE_POLL_INTERVAL="0.02",
        PERSONAS_EMBEDDER="hashing",
        PERSONAS_TOOLS="all",  # the test lists jobs (an ops tool)
        PERSONAS_LOG_LEVEL="WARNING",
        PERSONAS_LLM_MAX_RETRIES="0",
        PERSONAS_WORKER_CONCURRENCY=str(RUNNING),
        PERSONAS_JOB_LEASE_SECONDS=str(LEASE),
        ANTHROPIC_API_KEY="sk-test",
        ANTHROPIC_BASE_URL=api.base_url,
    )
    return env


async def test_server_sigkilled_with_jobs_in_flight_recovers_them_after_restart(
    make_settings: Callable[..., Settings], fake_api: FakeAnthropic, project: Path
) -> None:
    """`personas serve` (stdio, embedded Redis, in-process worker) is SIGKILLed: no graceful hand-back,
    the running jobs keep a lease of a dead worker and the queue is gone. The restarted server re-runs
    the running ones once their lease lapses and re-enqueues the queued ones."""
    reply = SlowThenFast()
    fake_api.default = reply
    settings = make_settings(
        anthropic_api_key="sk-test",
        anthropic_base_url=fake_api.base_url,
        worker_concurrency=RUNNING,
        job_lease_seconds=LEASE,
    )
    params = StdioServerParameters(command=PERSONAS_BIN, args=["serve"], env=_serve_env(project, fake_api))
    async with Client(params) as client:
        ids = [await invoke(client, f"crash job {i}") for i in range(RUNNING + QUEUED)]
        await _in_flight(client, fake_api)
        owners = {job.lease_owner for job in (await _jobs(settings.jobs_db_path)).values() if job.lease_owner}
        (owner,) = owners
        pid = int(owner.split(":")[1])
        os.kill(pid, signal.SIGKILL)
    crashed = await _jobs(settings.jobs_db_path)
    stranded = {job.id for job in crashed.values() if job.status is JobStatus.RUNNING}
    assert len(stranded) == RUNNING, crashed  # no graceful hand-back happened
    assert Counter(job.status for job in crashed.values())[JobStatus.PENDING] == QUEUED

    reply.fast = True
    async with Client(build_server(settings)) as restarted:
        reports = {job_id: await finished(restarted, job_id) for job_id in ids}
    final = await _jobs(settings.jobs_db_path)

    assert [r["status"] for r in reports.values()] == ["complete"] * len(ids), reports
    for job_id in stranded:
        assert final[job_id].attempts == 2
        assert final[job_id].queue_job_id == f"{job_id}:r1"  # re-queued by the reaper
        assert f":{pid}:" not in (final[job_id].lease_owner or "")
    assert all(final[j].attempts == 1 for j in set(ids) - stranded)
    assert len(fake_api.requests) == len(ids) + RUNNING
    assert max(_calls_per_task(fake_api).values()) <= 2
