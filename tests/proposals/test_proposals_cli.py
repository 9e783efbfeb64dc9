"""`personas standards show|approve` in a terminal: next steps a person can type, one indexing note."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from mcp_server.cli import main
from standards.curation.store import ProposalStore
from tests.proposals.conftest import DRAFT


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in list(os.environ):
        if name.startswith("PERSONAS_") or name in ("REDIS_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(tmp_path))

    async def seed() -> str:
        db = tmp_path / ".agent-os" / "data" / "proposals.sqlite3"
        async with ProposalStore.open(db, tmp_path / ".agent-os" / "standards") as store:
            return await store.create_draft(**DRAFT)

    return asyncio.run(seed())


def test_show_tells_a_person_the_commands_not_the_assistant_tools(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["standards", "show", seeded]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(
        f"Decide with: personas standards approve {seeded} [--edits FILE], personas standards request-changes "
        f"{seeded} --feedback TEXT, or personas standards reject {seeded} --feedback TEXT."
    )
    assert "approve_standard_proposal" not in out and "Show the user" not in out


def test_approve_without_a_server_says_once_when_it_is_indexed(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["standards", "approve", seeded, "--approved-by", "alice"]) == 0
    out = capsys.readouterr().out
    assert "watcher" not in out  # no server, no watcher: it used to say both that and the note below
    assert out.count("indexed when the server next starts") == 1, out
