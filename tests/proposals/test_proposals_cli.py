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


def test_request_changes_with_redis_down_names_it_without_a_traceback(
    seeded: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.redis_process import free_port

    port = free_port()  # nothing listens there
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    assert main(["standards", "request-changes", seeded, "--feedback", "add an example"]) == 2
    err = capsys.readouterr().err
    assert (
        f"personas standards request-changes: The job queue is unavailable: cannot reach Redis at 127.0.0.1:{port}"
        in err
    )
    assert "Traceback" not in err


async def test_approving_into_a_standards_dir_that_is_a_file_names_the_setting(tmp_path: Path) -> None:
    from standards.curation.models import ProposalError
    from standards.curation.service import ProposalService

    not_a_folder = tmp_path / "standards.md"
    not_a_folder.write_text("# a file\n")
    async with ProposalStore.open(tmp_path / "proposals.sqlite3", not_a_folder) as store:
        pid = await store.create_draft(**DRAFT)
        with pytest.raises(ProposalError, match=r"standards\.md is a file, not a folder; point PERSONAS_STANDARDS_DIR"):
            await ProposalService(store, not_a_folder).approve(pid, approved_by="alice")
        assert (await store.get(pid)).status == "draft"  # type: ignore[union-attr]
