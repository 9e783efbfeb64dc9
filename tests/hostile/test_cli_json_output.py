"""`--json` output of the CLI stays valid JSON when the text in it holds C1 controls or DEL: the
terminal escaping must write escapes JSON can read (a task or finding with U+0085 broke `jq`)."""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path

import pytest

from mcp_server.cli import main
from standards.control_chars import terminal_safe
from worker.models import JobState
from worker.store import JobStore

TASK = "review\x85 the\x7f login\x9b[2J flow\u202e"


def test_escaped_json_is_still_the_same_json() -> None:
    out = io.StringIO()
    terminal_safe(out).write(json.dumps({"t": TASK}, ensure_ascii=False))
    assert json.loads(out.getvalue()) == {"t": TASK}
    assert all(c not in out.getvalue() for c in "\x85\x7f\x9b\u202e")


def test_jobs_list_json_with_c1_controls_in_a_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    for name in list(os.environ):
        if name.startswith("PERSONAS_") or name in ("REDIS_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", redis_url)
    job = JobState(persona="qa", task=TASK)

    async def insert() -> None:
        async with JobStore.open(tmp_path / ".agent-os" / "data" / "jobs.sqlite3") as store:
            await store.insert(job)

    asyncio.run(insert())

    assert main(["jobs", "list", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["jobs"][0]["task"].startswith("review\x85 the\x7f login\x9b[2J")
    assert all(c not in out for c in "\x85\x7f\x9b")
    assert main(["jobs", "list"]) == 0
    text = capsys.readouterr().out
    assert "review\\u0085 the\\u007f login\\u009b[2J" in text
