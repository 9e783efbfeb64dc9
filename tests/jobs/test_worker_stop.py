"""``personas worker`` stopped by SIGTERM (a fleet scaling in, a deploy): it stops taking jobs, hands
the job it is running back to the queue, logs both and exits 0; another worker then runs every job
to completion, each once more at most. Nothing is left 'running', nothing is lost.

This is how it already behaved (the job's task is cancelled, worker/tasks.py hands the job back and
arq keeps its queue entry); the test holds it to that, through a real process on a real Redis."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.jobs.test_recovery import PERSONAS_BIN, _requests, _worker_env
from worker.models import JobStatus


async def test_sigterm_hands_the_running_job_back_takes_no_new_one_and_exits_0(
    make_jobs: Callable[..., Any], fake_api: FakeAnthropic, redis_url: str, project: Path, tmp_path: Path
) -> None:
    slow = fake.text("the stopped worker never sees this")
    slow.delay = 120  # a hang bound: the fake ends it early when it shuts down
    fake_api.add(slow)  # then the default reply: a complete review
    log = tmp_path / "worker.log"
    async with make_jobs() as jobs:
        first = await jobs.submit(task="review app.py")
        env = _worker_env(project, jobs.db_path.parent, redis_url, fake_api)
        # one job at a time: the second one waits on the queue while the first runs
        env |= {"PERSONAS_LOG_LEVEL": "INFO", "PERSONAS_WORKER_CONCURRENCY": "1"}
        with log.open("wb") as err, subprocess.Popen([PERSONAS_BIN, "worker"], env=env, stderr=err) as proc:
            try:
                running = await jobs.until(first, JobStatus.RUNNING, timeout=60)
                await wait_for(lambda: _requests(fake_api, 1), what="the worker's model call")
                second = await jobs.submit(task="review the rest")
                proc.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(proc.wait, 60)  # a hang bound, generous for a loaded machine
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        stderr = log.read_text(errors="replace")
        handed_back, waiting = await jobs.job(first), await jobs.job(second)
        async with jobs.worker() as other:
            done = [await jobs.until(job_id, timeout=60) for job_id in (first, second)]
    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr
    assert "SIGTERM received: stopping personas worker" in stderr
    assert f"job {first} handed back to the queue (worker shutting down)" in stderr
    assert running.lease_owner is not None and f":{proc.pid}:" in running.lease_owner
    assert handed_back.status is JobStatus.PENDING and handed_back.lease_owner is None, handed_back
    assert waiting.status is JobStatus.PENDING and waiting.attempts == 0, waiting  # never taken
    assert [job.status for job in done] == [JobStatus.COMPLETE] * 2, [job.error for job in done]
    assert [job.attempts for job in done] == [2, 1]
    assert all(job.lease_owner == other.worker_id for job in done)
    assert len(fake_api.requests) == 3  # the handed-back job ran once more, the other once
