"""Front matter in proposed content cannot set the fields the system manages."""

from __future__ import annotations

from datetime import UTC, datetime

from standards.curation.publish import StandardDocument, render_standard
from standards.frontmatter import parse

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
