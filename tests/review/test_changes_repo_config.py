"""A checkout's own git config (an archive, a downloaded repository) must never run a program while
its changes are resolved: not through a partial clone's lazy fetch, not through a submodule's filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from personas.changes import ChangesError, resolve_changes
from tests.review.gitrepo import commit, git, make_repo, write


async def test_a_partial_clone_never_fetches_through_its_config(tmp_path: Path) -> None:
    """`git diff` of a blobless clone fetches the missing blobs from the promisor remote, running the
    `uploadpack` command the clone's .git/config names."""
    source = make_repo(tmp_path / "source", {"app.py": "x = 1\n"})
    write(source, {"app.py": "x = 2\n"})
    commit(source, "second")
    git(source, "config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--filter=blob:none", "--no-checkout", source.as_uri(), str(clone))
    marker = tmp_path / "uploadpack-ran"
    git(clone, "config", "remote.origin.uploadpack", f"touch {marker}; git-upload-pack")

    with pytest.raises(ChangesError) as caught:
        await resolve_changes(clone, "HEAD~1..HEAD")

    assert not marker.exists()
    message = str(caught.value)
    assert "partial clone" in message and "never lets git fetch" in message and str(clone) in message


async def test_a_submodules_filters_never_run(tmp_path: Path) -> None:
    """`git diff` of the working tree runs `git status` in each submodule, with the filters of the
    submodule's own config (.git/modules/<name>/config)."""
    sub = make_repo(tmp_path / "subsource", {"a.txt": "a\n", ".gitattributes": "* filter=evil\n"})
    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "vendor/sub")
    commit(repo, "submodule")
    marker = tmp_path / "filter-ran"
    config = repo / ".git" / "modules" / "vendor" / "sub" / "config"
    for key in ("clean", "process"):
        git(repo, "config", "-f", str(config), f"filter.evil.{key}", f"sh -c 'touch {marker}; cat'")
    write(repo, {"vendor/sub/a.txt": "b\n", "app.py": "x = 2\n"})

    changes = await resolve_changes(repo, "working")

    assert not marker.exists()
    assert [f.path for f in changes.files] == ["app.py"] and "+x = 2" in changes.diff
