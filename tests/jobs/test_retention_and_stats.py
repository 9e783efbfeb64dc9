"""Retention deletes only old finished jobs and records the run; stats numbers from known history."""

from __future__ import annotations

import time
from pathlib import Path

from arq.cron import CronJob

from worker.app import build_worker
from worker.models import JobState, JobStatus
from worker.ops import database_stats, percentile
from worker.options import JobOptions
from worker.retention import DAY, apply_retention, retention_cron
from worker.store import JobStore
from worker.tasks import WorkerDeps

NOW = time.time()


def _job(persona: str, status: JobStatus, age_days: float, **fields: object) -> JobState:
    at = NOW - age_days * DAY
    terminal = status.terminal
    return JobState(
        persona=persona,
        task=f"{status.value} {age_days}d",
        status=status,
        created_at=at - 5,
        started_at=at - 4 if status is not JobStatus.PENDING else None,
        completed_at=at if terminal else None,
        **fields,  # type: ignore[arg-type]
    )


async def test_retention_deletes_only_old_finished_jobs(tmp_path: Path) -> None:
    options = JobOptions(retention_days_complete=30, retention_days_failed=90)
    keep = [
        _job("qa", JobStatus.COMPLETE, 29),
        _job("qa", JobStatus.FAILED, 89),
        _job("qa", JobStatus.CANCELLED, 60),
        _job("qa", JobStatus.RUNNING, 400),  # never touched, however old
        _job("qa", JobStatus.PENDING, 400),
    ]
    drop = [
        _job("qa", JobStatus.COMPLETE, 31, result="x" * 200_000),
        _job("qa", JobStatus.FAILED, 91),
        _job("qa", JobStatus.CANCELLED, 120),
    ]
    async with JobStore.open(tmp_path / "jobs.sqlite3") as store:
        for job in keep + drop:
            assert await store.insert(job)
            await store.save_conversation(job.id, [{"role": "user", "content": f"secret code of {job.id}"}])
        report = await apply_retention(store, options, now=NOW)
        transcripts = {j.id: await store.conversation(j.id) for j in keep + drop}
        left = {j.id for j in (await store.list_jobs(limit=100))[0]}
        stats = await database_stats(store, options, now=NOW)
        again = await apply_retention(store, options, now=NOW)  # idempotent
    assert report.deleted == 3 and again.deleted == 0
    assert left == {j.id for j in keep}
    assert {job_id for job_id, messages in transcripts.items() if messages is not None} == left
    assert stats.last_cleanup is not None and stats.last_cleanup_deleted == 3
    assert report.vacuumed and not again.vacuumed  # the 200 kB row freed enough to reclaim
    assert stats.total_jobs == 5


async def test_retention_cron_is_registered_and_single_flight(tmp_path: Path, redis_url: str) -> None:
    import redis.asyncio as aioredis

    from personas.registry import PersonaRegistry
    from personas.runtime import LLMConfig

    async with JobStore.open(tmp_path / "jobs.sqlite3") as store:
        deps = WorkerDeps(store=store, personas=PersonaRegistry.load(None), llm=LLMConfig(), job_timeout_seconds=60)
        worker = build_worker(redis_url, deps, concurrency=1, poll_interval=0.05)
        crons = [f for f in worker.functions.values() if isinstance(f, CronJob)]
        client = aioredis.Redis.from_url(redis_url)
        try:
            ctx = {"deps": deps, "redis": client}
            assert await retention_cron(ctx) == 0
            await client.set("agent-personas:retention-lock", "another-worker")
            assert await retention_cron(ctx) == -1  # another worker is on it
        finally:
            await client.aclose()
    assert len(crons) == 1 and crons[0].minute == 0 and crons[0].second == 0


async def test_stats_numbers(tmp_path: Path) -> None:
    durations = [10.0, 20.0, 30.0, 40.0, 100.0]
    history = [
        _job("security", JobStatus.COMPLETE, 0.1, duration_seconds=d, tokens_input=1000, tokens_output=100)
        for d in durations
    ]
    history += [
        _job("security", JobStatus.FAILED, 1.1, tokens_input=50),
        _job("security", JobStatus.CANCELLED, 2.1),
        _job("security", JobStatus.RUNNING, 0.0),
        _job("sre", JobStatus.COMPLETE, 5.5, duration_seconds=5.0),
        _job("sre", JobStatus.COMPLETE, 10.0, duration_seconds=7.0),  # older than the 7-day window
    ]
    async with JobStore.open(tmp_path / "jobs.sqlite3") as store:
        for job in history:
            await store.insert(job)
        stats = await database_stats(store, JobOptions(), now=NOW)
    assert stats.total_jobs == 10
    assert stats.jobs_by_status == {"pending": 0, "running": 1, "complete": 7, "failed": 1, "cancelled": 1}
    assert 10.0 <= (stats.oldest_job_days or 0) < 10.01
    assert stats.cleanup_recommendation == "healthy"
    usage = {u.persona: u for u in stats.personas}
    sec = usage["security"]
    assert (sec.jobs, sec.complete, sec.failed, sec.cancelled, sec.active) == (8, 5, 1, 1, 1)
    assert sec.success_rate == round(5 / 6, 3)
    assert sec.p50_duration_seconds == 30.0 and sec.p95_duration_seconds == 100.0
    assert sec.tokens_input == 5050 and sec.tokens_output == 500
    assert sum(sec.jobs_per_day.values()) == 8 and len(sec.jobs_per_day) == 7
    assert list(sec.jobs_per_day)[-1] == time.strftime("%Y-%m-%d", time.gmtime(NOW))
    assert sum(usage["sre"].jobs_per_day.values()) == 1 and usage["sre"].jobs == 2


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile(list(map(float, range(1, 101))), 95) == 95.0


async def test_old_database_gains_new_columns_and_keeps_history(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as db:  # the schema of the first release
        db.execute(
            "CREATE TABLE jobs (id TEXT PRIMARY KEY, persona, task, context, status, priority, "
            "progress_phase, progress_percent, progress_message, progress_eta_seconds, result, error, "
            "partial_result, created_at REAL, started_at REAL, completed_at REAL, tool_calls_made, "
            "tokens_input, tokens_output, duration_seconds, mode, persona_version, prompt_hash, findings, "
            "attempts, follow_up_of)"
        )
        db.execute(
            "INSERT INTO jobs (id, persona, task, status, priority, progress_percent, created_at, "
            "tool_calls_made, attempts) VALUES ('old', 'qa', 't', 'complete', 'normal', 100, 1.0, 0, 1)"
        )
    async with JobStore.open(path) as store:
        old = await store.get("old")
        assert old is not None and old.status is JobStatus.COMPLETE and old.lease_owner is None
        assert await store.insert(JobState(persona="qa", task="new"))
