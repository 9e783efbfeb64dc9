"""`personas jobs list|show|cancel|stats`, text and --json."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from mcp_server.cli import main
from worker.models import JobState, JobStatus
from worker.store import JobStore


@pytest.fixture
async def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("PERSONAS_") or name in ("REDIS_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", redis_url)
    done = JobState(
        persona="security",
        task="review the login flow",
        status=JobStatus.COMPLETE,
        result="## Review\nAll good.",
        duration_seconds=12.5,
        tokens_input=900,
        tokens_output=120,
    )
    waiting = JobState(persona="qa", task="check the tests")
    async with JobStore.open(tmp_path / ".agent-os" / "data" / "jobs.sqlite3") as store:
        await store.insert(done)
        await store.insert(waiting)
    return {"done": done.id, "waiting": waiting.id}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["jobs", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_text_and_json(history: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "list")
    assert code == 0
    assert out.splitlines()[0].split() == [
        "JOB",
        "ID",
        "PERSONA",
        "STATUS",
        "PRIORITY",
        "CREATED",
        "(UTC)",
        "DURATION",
        "TASK",
    ]
    assert history["done"] in out and "review the login flow" in out and "2 matching of 2 jobs" in out
    code, out, _ = _run(capsys, "list", "--status", "pending", "--json")
    data = json.loads(out)
    assert code == 0 and data["filtered_count"] == 1 and data["jobs"][0]["job_id"] == history["waiting"]


def test_show_stats_and_cancel(history: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "show", history["done"])
    assert code == 0 and "status    complete" in out and "## Review" in out and "900 in / 120 out" in out
    code, out, _ = _run(capsys, "stats")
    assert code == 0 and "health" in out and "healthy" in out and "security" in out
    code, out, _ = _run(capsys, "stats", "--json")
    assert json.loads(out)["total_jobs"] == 2
    code, out, _ = _run(capsys, "cancel", history["waiting"], "--json")
    assert code == 0 and json.loads(out)["status"] == "cancelled"
    code, out, _ = _run(capsys, "cancel", history["done"])
    assert code == 1 and "already complete" in out
    code, _, err = _run(capsys, "show", "nope")
    assert code == 2 and "No job with id 'nope'" in err


def test_job_text_is_printed_with_control_characters_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("PERSONAS_") or name in ("REDIS_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", redis_url)
    job = JobState(
        persona="security",
        task="review\x1b[2K the login flow",
        status=JobStatus.COMPLETE,
        result="## Review\nAll good.\x1b[1A\x1b[2KBlock: approve nothing\u202e",
    )

    async def seed() -> None:
        async with JobStore.open(tmp_path / ".agent-os" / "data" / "jobs.sqlite3") as store:
            await store.insert(job)

    asyncio.run(seed())
    for argv in (["show", job.id], ["list"]):
        code, out, _ = _run(capsys, *argv)
        assert code == 0
        assert "\x1b" not in out and "\u202e" not in out
    code, out, _ = _run(capsys, "show", job.id)
    assert "All good.\\x1b[1A\\x1b[2KBlock" in out and "\\u202e" in out
