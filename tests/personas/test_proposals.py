"""ProposalStore: drafts in SQLite, one open draft per domain/topic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from standards.curation.store import ProposalStore

DRAFT: dict[str, Any] = {
    "domain": "security",
    "topic": "jwt-verification",
    "title": "Verify JWTs",
    "content": "## Summary\nVerify every token.",
    "rationale": "Seen in api/login.py and api/admin.py",
    "proposed_by": "security",
    "job_id": "job-1",
}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ProposalStore]:
    async with ProposalStore.open(tmp_path / "data" / "proposals.sqlite3") as opened:
        yield opened


async def test_create_get_and_list(store: ProposalStore) -> None:
    proposal_id = await store.create_draft(**DRAFT)
    other_id = await store.create_draft(**{**DRAFT, "domain": "testing", "topic": "frozen-clock"})

    got = await store.get(proposal_id)
    assert got is not None
    assert (got.status, got.version, got.feedback, got.job_id) == ("draft", 1, None, "job-1")
    assert got.created_at == got.updated_at
    assert {p.id for p in await store.list()} == {proposal_id, other_id}
    assert [p.id for p in await store.list(domain="testing")] == [other_id]
    assert [p.id for p in await store.list(status="draft", limit=1)] == [other_id]  # newest change first
    assert await store.list(status="approved") == []
    assert await store.get("nope") is None


async def test_same_topic_revises_the_open_draft(store: ProposalStore) -> None:
    first = await store.create_draft(**DRAFT)
    second = await store.create_draft(**{**DRAFT, "content": "## Summary\nRevised.", "job_id": "job-2"})

    assert second == first
    revised = await store.get(first)
    assert revised is not None
    assert (revised.version, revised.content, revised.job_id) == (2, "## Summary\nRevised.", "job-2")
    assert revised.updated_at >= revised.created_at


async def test_a_decided_proposal_does_not_block_a_new_draft(store: ProposalStore) -> None:
    first = await store.create_draft(**DRAFT)
    async with aiosqlite.connect(str(store.path)) as db:
        await db.execute("UPDATE proposals SET status='rejected' WHERE id=?", (first,))
        await db.commit()
    assert await store.create_draft(**DRAFT) != first


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("domain", "Security", "domain 'Security' must be a lowercase kebab-case slug"),
        ("domain", "../etc", "kebab-case"),
        ("topic", "jwt_verification", "topic"),
        ("topic", "a" * 81, "at most 80"),
        ("title", "  ", "title must not be empty"),
        ("content", "x" * 50_001, "content is 50,001 characters"),
        ("rationale", "", "rationale must not be empty"),
    ],
)
async def test_invalid_fields_are_refused(store: ProposalStore, field: str, value: str, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        await store.create_draft(**{**DRAFT, field: value})
    assert await store.list() == []
