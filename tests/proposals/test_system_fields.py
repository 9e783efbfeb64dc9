"""Front matter in proposed content cannot set the fields the system manages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from standards.curation.publish import StandardDocument, render_standard
from standards.curation.store import ProposalStore
from standards.frontmatter import parse
from tests.proposals.conftest import DRAFT

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_content_cannot_set_created_at_or_other_system_fields() -> None:
    extra = {
        "created_at": "1999-01-01T00:00:00Z",
        "last_updated": "1999-01-01T00:00:00Z",
        "approved_by": "mallory",
        "version": 99,
        "owner": "team-a",
    }
    doc = StandardDocument(
        domain="security", title="T", body="Body.", created_by="qa", approved_by="alice", extra=extra
    )
    meta = parse(render_standard(doc, existing=None, now=NOW)).meta
    assert meta["created_at"] == "2026-01-02T03:04:05Z"
    assert meta["last_updated"] == "2026-01-02T03:04:05Z"
    assert meta["approved_by"] == "alice"
    assert meta["version"] == 1
    assert meta["owner"] == "team-a"


def test_update_keeps_the_files_own_created_at() -> None:
    existing = "---\ntitle: T\ncreated_at: '2020-05-05T00:00:00Z'\nversion: 3\n---\n# T\n\nOld.\n"
    doc = StandardDocument(
        domain="security",
        title="T",
        body="New.",
        created_by="qa",
        approved_by="alice",
        extra={"created_at": "1999-01-01T00:00:00Z"},
    )
    meta = parse(render_standard(doc, existing=existing, now=NOW)).meta
    assert meta["created_at"] == "2020-05-05T00:00:00Z"
    assert meta["version"] == 4


async def test_alias_bomb_in_proposed_content_is_refused(store: ProposalStore) -> None:
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    with pytest.raises(ValueError, match="aliases"):
        await store.create_draft(**{**DRAFT, "content": bomb + "---\n" + DRAFT["content"]})
