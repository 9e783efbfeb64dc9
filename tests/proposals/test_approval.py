"""ProposalService: approve writes safely (front matter, atomic, never overwriting silently, inside
the standards folder), reject, request changes; every refusal says why and writes nothing."""

from __future__ import annotations

import os
from dataclasses import astuple
from pathlib import Path

import aiosqlite
import pytest

from standards.curation.publish import StandardWriteError, standard_path
from standards.curation.service import ProposalError, ProposalService, UnknownProposalError
from standards.curation.store import ProposalStore
from standards.frontmatter import parse
from tests.proposals.conftest import CONTENT, DRAFT, RecordingQueue, RecordingReindex


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


async def test_approve_writes_front_matter_and_reindexes(
    service: ProposalService, store: ProposalStore, standards_dir: Path, reindex: RecordingReindex
) -> None:
    pid = await store.create_draft(**DRAFT)

    result = await service.approve(pid, approved_by="alice")

    target = standards_dir / "security" / "jwt-verification.md"
    assert (result.status, result.action, result.file, result.path) == (
        "approved",
        "create",
        "security/jwt-verification.md",
        str(target.resolve()),
    )
    assert result.indexed and reindex.paths == [target.resolve()]
    meta, body, warning = astuple(parse(target.read_text(encoding="utf-8")))
    assert warning is None
    assert list(meta)[:8] == [
        "title",
        "domain",
        "tags",
        "version",
        "created_by",
        "approved_by",
        "created_at",
        "last_updated",
    ]
    assert (meta["title"], meta["domain"], meta["version"], meta["created_by"], meta["approved_by"]) == (
        "Verify JWTs",
        "security",
        1,
        "security",
        "alice",
    )
    assert meta["tags"] == ["security"] and meta["created_at"] == meta["last_updated"]
    assert body.startswith("# Verify JWTs\n\n## Summary") and body.endswith("never embed keys.\n")
    assert _files(standards_dir) == ["security/jwt-verification.md"]  # no temp files left
    stored = await store.get(pid)
    assert stored is not None and (stored.status, stored.approved_by, stored.file_path) == (
        "approved",
        "alice",
        str(target.resolve()),
    )
    shown = await service.show(pid)
    assert not shown.approvable and "Approved by alice" in shown.next_steps


async def test_approve_with_edits_keeps_their_front_matter(
    service: ProposalService, store: ProposalStore, standards_dir: Path
) -> None:
    pid = await store.create_draft(**DRAFT)
    edits = "---\ntags: [jwt, auth]\nowner: platform-team\n---\n# JWT verification\n\nVerify tokens.\n"
    result = await service.approve(pid, edits=edits)
    meta, body, _ = astuple(parse((standards_dir / result.file).read_text()))
    assert (meta["title"], meta["tags"], meta["owner"], meta["approved_by"]) == (
        "Verify JWTs",
        ["jwt", "auth"],
        "platform-team",
        "human reviewer",
    )
    assert body == "# JWT verification\n\nVerify tokens.\n"
    stored = await store.get(pid)
    assert stored is not None and stored.edited and stored.content == edits


async def test_unknown_id_and_deciding_twice(service: ProposalService, store: ProposalStore) -> None:
    with pytest.raises(UnknownProposalError, match="No standard proposal with id 'nope'"):
        await service.approve("nope")
    with pytest.raises(UnknownProposalError):
        await service.show("nope")
    pid = await store.create_draft(**DRAFT)
    await service.approve(pid)
    with pytest.raises(ProposalError, match=r"already approved .*final"):
        await service.approve(pid)
    with pytest.raises(ProposalError, match="already approved"):
        await service.reject(pid, "changed my mind")
    with pytest.raises(ProposalError, match="already approved"):
        await service.request_changes(pid, "more")
    other = await store.create_draft(**{**DRAFT, "topic": "other"})
    rejected = await service.reject(other, "duplicate of jwt-verification")
    assert rejected.status == "rejected"
    with pytest.raises(ProposalError, match="already rejected"):
        await service.approve(other)


async def test_secret_in_edits_is_refused(service: ProposalService, store: ProposalStore, standards_dir: Path) -> None:
    pid = await store.create_draft(**DRAFT)
    with pytest.raises(ProposalError, match="edits line 3: AWS access key ID"):
        await service.approve(pid, edits="# Keys\n\nAWS_ACCESS_KEY_ID=AKIAZ7QWERTYUIOPASDF\n")
    assert _files(standards_dir) == []
    assert (await service.show(pid)).status == "draft"


async def _insert_raw(store: ProposalStore, pid: str, domain: str, topic: str) -> None:
    """A row that create_draft would refuse (as if written by a buggy or hostile client)."""
    async with aiosqlite.connect(str(store.path)) as db:
        await db.execute(
            "INSERT INTO proposals (id, domain, topic, title, content, rationale, proposed_by, status, version, "
            "created_at, updated_at) VALUES (?, ?, ?, 't', 'c', 'r', 'security', 'draft', 1, 0, 0)",
            (pid, domain, topic),
        )
        await db.commit()


@pytest.mark.parametrize(("domain", "topic"), [("security", "../x"), ("..", "x"), ("Security", "x"), ("a/b", "x")])
async def test_bad_slugs_never_reach_the_disk(
    service: ProposalService, store: ProposalStore, standards_dir: Path, domain: str, topic: str
) -> None:
    await _insert_raw(store, "bad", domain, topic)
    with pytest.raises(ProposalError, match="kebab-case slug"):
        await service.approve("bad")
    assert _files(standards_dir.parent.parent) == []  # nothing written anywhere in the project


async def test_symlinked_domain_leading_outside_is_refused(
    service: ProposalService, store: ProposalStore, standards_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, standards_dir / "security")
    pid = await store.create_draft(**DRAFT)
    shown = await service.show(pid)
    assert not shown.approvable and "symlink leading outside" in shown.blockers[0]
    with pytest.raises(ProposalError, match="security is a symlink leading outside the standards folder"):
        await service.approve(pid)
    assert list(outside.iterdir()) == []


async def test_symlinked_target_file_is_refused(
    service: ProposalService, store: ProposalStore, standards_dir: Path, tmp_path: Path
) -> None:
    (standards_dir / "security").mkdir()
    inside = standards_dir / "security" / "real.md"
    inside.write_text("# Real\n")
    os.symlink(inside, standards_dir / "security" / "jwt-verification.md")
    outside = tmp_path / "passwd"
    outside.write_text("root:x:0:0\n")
    os.symlink(outside, standards_dir / "security" / "escape.md")
    with pytest.raises(StandardWriteError, match="is a symlink"):
        standard_path(standards_dir, "security", "jwt-verification")
    with pytest.raises(StandardWriteError, match="leading outside"):
        standard_path(standards_dir, "security", "escape")
    pid = await store.create_draft(**DRAFT)
    with pytest.raises(ProposalError, match="symlink"):
        await service.approve(pid)
    assert inside.read_text() == "# Real\n" and outside.read_text() == "root:x:0:0\n"


async def test_existing_file_is_never_overwritten_by_a_new_proposal(
    service: ProposalService, store: ProposalStore, standards_dir: Path
) -> None:
    pid = await store.create_draft(**DRAFT)
    (standards_dir / "security").mkdir()
    target = standards_dir / "security" / "jwt-verification.md"
    target.write_text("# Hand-written\n")  # appears after the proposal was made
    shown = await service.show(pid)
    assert shown.action == "create" and shown.diff is None and not shown.approvable
    assert "already exists" in shown.blockers[0]
    with pytest.raises(ProposalError, match=r"already exists.*never overwrites a standard silently"):
        await service.approve(pid)
    assert target.read_text() == "# Hand-written\n"
    assert (await service.show(pid)).status == "draft"


async def test_update_shows_a_diff_and_keeps_created_fields(
    service: ProposalService, store: ProposalStore, standards_dir: Path
) -> None:
    (standards_dir / "security").mkdir()
    target = standards_dir / "security" / "jwt-verification.md"
    target.write_text(
        "---\ntitle: Verify JWTs\ntags: [jwt]\nversion: 3\ncreated_by: architect\ncreated_at: 2025-01-02\n"
        "reviewers: [bob]\n---\n# Verify JWTs\n\nOld rule.\n"
    )
    target.chmod(0o640)
    pid = await store.create_draft(**DRAFT)

    shown = await service.show(pid)
    assert shown.action == "update" and shown.approvable and shown.blockers == []
    assert shown.diff is not None
    assert shown.diff.startswith("--- a/security/jwt-verification.md\n+++ b/security/jwt-verification.md\n")
    assert "-Old rule.\n" in shown.diff and "+## Summary\n" in shown.diff and "-version: 3\n+version: 4\n" in shown.diff

    result = await service.approve(pid, approved_by="carol")
    assert result.action == "update"
    meta, body, _ = astuple(parse(target.read_text()))
    assert (meta["version"], meta["created_by"], meta["created_at"], meta["tags"], meta["reviewers"]) == (
        4,
        "architect",
        "2025-01-02",
        ["jwt"],
        ["bob"],
    )
    assert meta["approved_by"] == "carol" and "Old rule" not in body
    assert target.stat().st_mode & 0o777 == 0o640


async def test_stale_update_is_refused(service: ProposalService, store: ProposalStore, standards_dir: Path) -> None:
    (standards_dir / "security").mkdir()
    target = standards_dir / "security" / "jwt-verification.md"
    target.write_text("# Verify JWTs\n\nOld rule.\n")
    pid = await store.create_draft(**DRAFT)
    target.write_text("# Verify JWTs\n\nSomeone's newer rule.\n")

    shown = await service.show(pid)
    assert not shown.approvable and "changed after this proposal (version 1) was made" in shown.blockers[0]
    with pytest.raises(ProposalError, match=r"changed after this proposal .* overwrite those changes"):
        await service.approve(pid)
    assert target.read_text() == "# Verify JWTs\n\nSomeone's newer rule.\n"
    target.unlink()
    with pytest.raises(ProposalError, match="was deleted after this proposal was made"):
        await service.approve(pid)
    assert not target.exists()


async def test_a_revision_during_approval_undoes_the_write(
    service: ProposalService, store: ProposalStore, standards_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = await store.create_draft(**DRAFT)
    original = store.mark_approved

    async def revised_meanwhile(proposal_id: str, **kwargs: object) -> bool:
        await store.create_draft(**{**DRAFT, "content": "## Summary\nRevised meanwhile."})
        return await original(proposal_id, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "mark_approved", revised_meanwhile)
    with pytest.raises(ProposalError, match=r"changed while it was being approved .*version 2.*nothing was written"):
        await service.approve(pid)
    assert _files(standards_dir) == []


async def test_index_failure_does_not_undo_an_approval(
    store: ProposalStore, standards_dir: Path, queue: RecordingQueue
) -> None:
    service = ProposalService(store, standards_dir, revisions=queue, reindex=RecordingReindex(fail=True))
    pid = await store.create_draft(**DRAFT)
    result = await service.approve(pid)
    assert (
        result.status == "approved"
        and not result.indexed
        and "A running server indexes it within a second" in result.message
    )
    assert (standards_dir / result.file).is_file()


async def test_request_changes_queues_a_revision_of_the_proposing_persona(
    service: ProposalService, store: ProposalStore, queue: RecordingQueue
) -> None:
    pid = await store.create_draft(**DRAFT)
    result = await service.request_changes(pid, "Add a Python example for key rotation.")
    assert (result.status, result.revision_job_id, result.version) == ("changes_requested", "job-rev-1", 1)
    (call,) = queue.calls
    assert call["persona"] == "security" and call["priority"] == "normal"
    assert "Add a Python example for key rotation." in call["task"]
    assert "domain 'security' and topic 'jwt-verification'" in call["task"]
    assert CONTENT in call["context"] and "rationale: Seen unverified" in call["context"]
    shown = await service.show(pid)
    assert (shown.status, shown.revision_job_id, shown.feedback) == (
        "changes_requested",
        "job-rev-1",
        "Add a Python example for key rotation.",
    )
    assert "becomes version 2" in shown.next_steps
    # the revision arrives as version 2 of the same proposal
    assert await store.create_draft(**{**DRAFT, "content": CONTENT + "\n## Examples\nrotate()\n"}) == pid
    assert (await service.show(pid)).version == 2


async def test_request_changes_that_cannot_be_queued_leaves_a_draft(
    service: ProposalService, store: ProposalStore, queue: RecordingQueue
) -> None:
    pid = await store.create_draft(**DRAFT)
    queue.fail = ValueError("Unknown persona 'security'")
    with pytest.raises(ValueError, match="Unknown persona"):
        await service.request_changes(pid, "more detail")
    assert (await service.show(pid)).status == "draft"
    with pytest.raises(ProposalError, match="feedback line 1: GitHub token"):
        await service.request_changes(pid, "use ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5")
    with pytest.raises(ValueError, match="feedback must not be empty"):
        await service.reject(pid, "   ")


async def test_list_filters_by_status(service: ProposalService, store: ProposalStore) -> None:
    a = await store.create_draft(**DRAFT)
    b = await store.create_draft(**{**DRAFT, "topic": "b"})
    c = await store.create_draft(**{**DRAFT, "topic": "c"})
    await service.request_changes(b, "more")
    await service.reject(c, "no")
    assert {p.id for p in (await service.list_proposals()).proposals} == {a, b}
    assert [p.id for p in (await service.list_proposals("rejected")).proposals] == [c]
    listing = await service.list_proposals("all")
    assert len(listing.proposals) == 3
    assert listing.message.startswith("3 proposal(s) shown")
    assert (await service.list_proposals("approved")).message == "No approved proposals."
    assert (await service.list_proposals("changes_requested")).message.startswith("1 changes requested proposal(s)")
    assert listing.counts == {"draft": 1, "changes_requested": 1, "approved": 0, "rejected": 1}
