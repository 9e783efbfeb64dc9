"""ProposalStore: the state machine, guarded in SQL; decided proposals are immutable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from standards.curation.store import ProposalStore
from tests.proposals.conftest import DRAFT


async def _raw(store: ProposalStore, sql: str, *params: object) -> None:
    async with aiosqlite.connect(str(store.path)) as db:
        await db.execute(sql, params)
        await db.commit()


async def test_draft_to_changes_requested_to_next_version(store: ProposalStore) -> None:
    pid = await store.create_draft(**DRAFT)
    assert await store.request_changes(pid, feedback="Add an example", version=1)
    waiting = await store.get(pid)
    assert waiting is not None and (waiting.status, waiting.feedback, waiting.version) == (
        "changes_requested",
        "Add an example",
        1,
    )
    # the persona's next propose_standard on the same domain/topic revises the same proposal
    again = await store.create_draft(**{**DRAFT, "content": "## Summary\nRevised.", "job_id": "job-2"})
    revised = await store.get(pid)
    assert again == pid
    assert revised is not None
    assert (revised.status, revised.version, revised.job_id, revised.feedback) == (
        "draft",
        2,
        "job-2",
        "Add an example",
    )
    assert len(await store.list()) == 1


async def test_request_changes_is_guarded_by_version(store: ProposalStore) -> None:
    pid = await store.create_draft(**DRAFT)
    await store.create_draft(**DRAFT)  # version 2
    assert not await store.request_changes(pid, feedback="x", version=1)
    assert await store.request_changes(pid, feedback="x", version=2)
    assert await store.reopen(pid, version=2)
    got = await store.get(pid)
    assert got is not None and got.status == "draft"


async def test_approved_and_rejected_are_final(store: ProposalStore) -> None:
    approved = await store.create_draft(**DRAFT)
    rejected = await store.create_draft(**{**DRAFT, "topic": "other"})
    assert await store.mark_approved(
        approved, version=1, approved_by="alice", file_path="/x/security/jwt-verification.md", content="c", edited=False
    )
    assert await store.reject(rejected, feedback="not needed")

    for pid in (approved, rejected):
        assert not await store.reject(pid, feedback="again")
        assert not await store.request_changes(pid, feedback="again", version=1)
        assert not await store.mark_approved(
            pid, version=1, approved_by="bob", file_path="/y", content="d", edited=True
        )
        assert not await store.reopen(pid, version=1)
        assert not await store.set_revision_job(pid, "job-x")
        # not even a raw UPDATE gets through: a trigger refuses any change to a decided row
        with pytest.raises(sqlite3.IntegrityError, match="decided proposals cannot change"):
            await _raw(store, "UPDATE proposals SET content='tampered', status='draft' WHERE id=?", pid)
    final = await store.get(approved)
    assert final is not None
    assert (final.status, final.approved_by, final.content, final.decided_at is not None) == (
        "approved",
        "alice",
        "c",
        True,
    )
    # a decided proposal does not block a new one on the same topic
    assert await store.create_draft(**DRAFT) not in (approved, rejected)


async def test_invalid_status_is_refused_in_sql(store: ProposalStore) -> None:
    pid = await store.create_draft(**DRAFT)
    with pytest.raises(sqlite3.IntegrityError):
        await _raw(store, "UPDATE proposals SET status='published' WHERE id=?", pid)


async def test_draft_records_the_standard_it_would_replace(store: ProposalStore, standards_dir: Path) -> None:
    new = await store.create_draft(**DRAFT)
    (standards_dir / "security").mkdir()
    (standards_dir / "security" / "tls.md").write_text("# TLS\n\nUse TLS 1.2+.\n")
    update = await store.create_draft(**{**DRAFT, "topic": "tls"})
    got_new, got_update = await store.get(new), await store.get(update)
    assert got_new is not None and got_update is not None
    assert (got_new.is_update, got_new.base_hash) == (False, None)
    assert got_update.is_update and got_update.base_content == "# TLS\n\nUse TLS 1.2+.\n"


async def test_secrets_are_refused_at_proposal_time(store: ProposalStore) -> None:
    content = "## Example\n\nConnect with\n\n    postgres://app:Sup3rS3cret@db.internal:5432/app\n"
    with pytest.raises(ValueError, match=r"content line 5: credentials in a postgres:// connection string") as info:
        await store.create_draft(**{**DRAFT, "content": content})
    assert "Sup3rS3cret" not in str(info.value)
    with pytest.raises(ValueError, match="rationale line 1: AWS access key ID"):
        await store.create_draft(**{**DRAFT, "rationale": "key AKIAZ7QWERTYUIOPASDF in ci.yml"})
    assert await store.list() == []


async def test_old_database_is_migrated(tmp_path: Path, standards_dir: Path) -> None:
    path = tmp_path / "old.sqlite3"
    async with aiosqlite.connect(path) as db:
        await db.executescript(
            """
            CREATE TABLE proposals (id TEXT PRIMARY KEY, domain TEXT NOT NULL, topic TEXT NOT NULL,
              title TEXT NOT NULL, content TEXT NOT NULL, rationale TEXT NOT NULL, proposed_by TEXT NOT NULL,
              job_id TEXT, status TEXT NOT NULL DEFAULT 'draft', feedback TEXT,
              version INTEGER NOT NULL DEFAULT 1, created_at REAL NOT NULL, updated_at REAL NOT NULL);
            CREATE UNIQUE INDEX proposals_open_draft ON proposals (domain, topic) WHERE status = 'draft';
            INSERT INTO proposals VALUES ('old-1', 'security', 'jwt-verification', 'T', 'c', 'r', 'security',
              NULL, 'draft', NULL, 1, 1.0, 1.0);
            """
        )
        await db.commit()
    async with ProposalStore.open(path, standards_dir) as store:
        assert await store.request_changes("old-1", feedback="more", version=1)
        assert await store.create_draft(**DRAFT) == "old-1"
        got = await store.get("old-1")
        assert got is not None and (got.status, got.version, got.base_hash) == ("draft", 2, None)
