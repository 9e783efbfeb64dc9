"""approve_standard_proposal(target='shared'): writes to the first shared folder only when that is
configured, allowed (PERSONAS_SHARED_STANDARDS_WRITABLE) and writable; otherwise nothing is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from standards.curation.service import ProposalError, ProposalService
from standards.curation.store import ProposalStore
from tests.proposals.conftest import DRAFT, RecordingReindex


def _service(store: ProposalStore, standards_dir: Path, reindex: RecordingReindex, **kwargs: object) -> ProposalService:
    return ProposalService(store, standards_dir, reindex=reindex, **kwargs)  # type: ignore[arg-type]


async def test_shared_target_writes_to_the_shared_folder(
    store: ProposalStore, standards_dir: Path, reindex: RecordingReindex, tmp_path: Path
) -> None:
    shared = tmp_path / "org-standards"
    shared.mkdir()
    service = _service(store, standards_dir, reindex, shared_dir=shared, shared_writable=True)
    pid = await store.create_draft(**DRAFT)
    result = await service.approve(pid, approved_by="alice", target="shared")
    target = (shared / "security" / "jwt-verification.md").resolve()
    assert (result.target, result.path, result.status) == ("shared", str(target), "approved")
    assert target.is_file() and reindex.paths == [target]
    assert not (standards_dir / "security").exists()  # nothing in the project's folder


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({}, "no shared standards folder is configured"),
        ({"shared_writable": False}, "PERSONAS_SHARED_STANDARDS_WRITABLE=true"),
        ({"shared_writable": True, "read_only": True}, "not writable"),
    ],
)
async def test_shared_target_is_refused_without_writing(
    store: ProposalStore,
    standards_dir: Path,
    reindex: RecordingReindex,
    tmp_path: Path,
    kwargs: dict[str, bool],
    why: str,
) -> None:
    shared = tmp_path / "org-standards"
    shared.mkdir()
    if kwargs.pop("read_only", False):
        if os.geteuid() == 0:
            shared = tmp_path / "missing"  # root writes anywhere: a folder that is not there stands in
        else:
            shared.chmod(0o555)
    options: dict[str, object] = {"shared_dir": shared, **kwargs} if kwargs else {}
    service = _service(store, standards_dir, reindex, **options)
    pid = await store.create_draft(**DRAFT)
    with pytest.raises(ProposalError, match=why):
        await service.approve(pid, approved_by="alice", target="shared")
    assert (await store.get(pid)).status == "draft"  # type: ignore[union-attr]
    if shared.exists():
        assert not any(shared.rglob("*.md"))
    assert reindex.paths == []
    project = await service.approve(pid, approved_by="alice")  # the default target still works
    assert project.target == "project" and Path(project.path).is_relative_to(standards_dir.resolve())
