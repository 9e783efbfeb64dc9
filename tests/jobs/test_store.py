"""The job store: WAL SQLite, terminal states immutable in the store itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mcp_server.settings_load import SettingsError, load_settings
from personas.runtime import ProgressUpdate
from worker.models import JobFinish, JobState, JobStatus
from worker.store import JobStore


async def test_lifecycle_and_terminal_states_are_immutable(tmp_path: Path) -> None:
    async with JobStore.open(tmp_path / "jobs.sqlite3") as store:
        job = JobState(persona="qa", task="review tests")
        await store.insert(job)
        running = await store.claim(job.id, owner="w1", lease_seconds=30, queue_job_id=job.id)
        assert running is not None and running.status is JobStatus.RUNNING and running.attempts == 1
        assert running.lease_owner == "w1" and running.lease_expires_at is not None
        update = ProgressUpdate(phase="searching", percent_complete=30, message="Searching", partial_result="so far")
        assert await store.update_progress(job.id, update)
        assert await store.finish(
            job.id, JobFinish(status=JobStatus.COMPLETE, result="ok", findings=[{"severity": "low"}])
        )

        assert not await store.finish(job.id, JobFinish.failed("late failure"))
        assert not await store.update_progress(job.id, update)
        assert await store.claim(job.id, owner="w2", lease_seconds=30, queue_job_id=job.id) is None
        final = await store.get(job.id)
    assert final is not None
    assert final.status is JobStatus.COMPLETE
    assert final.result == "ok" and final.error is None
    assert final.findings == [{"severity": "low"}]
    assert final.partial_result == "so far"
    assert final.duration_seconds is not None and final.duration_seconds >= 0


async def test_history_survives_reopen_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    async with JobStore.open(path) as store:
        job = JobState(persona="sre", task="check rollout")
        await store.insert(job)
    async with JobStore.open(path) as store:
        again = await store.get(job.id)
        mode = await store.db.fetch("PRAGMA journal_mode")
    assert again is not None and again.task == "check rollout"
    assert mode == [{"journal_mode": "wal"}]


def test_job_settings_map_to_job_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("PERSONAS_WEBHOOK_URL", "PERSONAS_WEBHOOK_SECRET", "PERSONAS_DAILY_JOB_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setenv("PERSONAS_WEBHOOK_URL", "https://hooks.example/personas")
    with pytest.raises(SettingsError, match="PERSONAS_WEBHOOK_SECRET"):
        load_settings()
    monkeypatch.setenv("PERSONAS_WEBHOOK_SECRET", "x" * 32)
    monkeypatch.setenv("PERSONAS_JOB_LEASE_SECONDS", "12")
    monkeypatch.setenv("PERSONAS_DAILY_JOB_LIMIT", "50")
    options = load_settings().job_options()
    assert options.webhook_url == "https://hooks.example/personas" and options.webhook_secret == "x" * 32
    assert options.lease_seconds == 12 and options.heartbeat_seconds == 4 and options.daily_job_limit == 50


async def test_transcripts_left_by_older_versions_are_swept_at_open(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as old:  # a database of a version whose reset kept the transcripts
        old.executescript(
            "CREATE TABLE jobs (id TEXT PRIMARY KEY, persona, task, status, created_at REAL);"
            "CREATE TABLE conversations (job_id TEXT PRIMARY KEY, messages TEXT NOT NULL);"
            "INSERT INTO jobs VALUES ('kept', 'qa', 't', 'complete', 1.0);"
            "INSERT INTO conversations VALUES ('kept', '[]'), ('deleted-job', '[{\"content\": \"secret\"}]');"
        )
    old.close()
    async with JobStore.open(path) as store:
        assert await store.conversation("deleted-job") is None
        assert await store.conversation("kept") == []
        await store.delete_all()
        assert await store.conversation_count() == 0


def test_a_finish_is_typed_and_terminal() -> None:
    with pytest.raises(ValueError, match="not running"):
        JobFinish(status=JobStatus.RUNNING)
    with pytest.raises(ValueError, match="webhook_status"):
        JobFinish(status=JobStatus.FAILED, webhook_status="pending")  # type: ignore[call-arg]
    assert JobFinish.failed("boom").values() == {"status": JobStatus.FAILED, "error": "boom"}


async def test_the_store_queues_the_webhook_of_every_terminal_transition(tmp_path: Path) -> None:
    async with JobStore.open(tmp_path / "jobs.sqlite3", webhooks=True) as store:
        finishes = [JobFinish(status=JobStatus.COMPLETE, result="ok"), JobFinish.failed("x"), JobFinish.cancelled("y")]
        for finish in finishes:
            job = JobState(persona="qa", task="t")
            await store.insert(job)
            assert await store.finish(job.id, finish)
            done = await store.get(job.id)
            assert done is not None and done.status is finish.status and done.webhook_status == "pending"
    async with JobStore.open(tmp_path / "quiet.sqlite3") as store:
        job = JobState(persona="qa", task="t")
        await store.insert(job)
        await store.finish(job.id, JobFinish.failed("x"))
        quiet = await store.get(job.id)
        assert quiet is not None and quiet.webhook_status is None
