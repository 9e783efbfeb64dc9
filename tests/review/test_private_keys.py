"""A private key is never sent to the model, whatever the file is called: a hard link inside the project
to ~/.ssh/id_ed25519 passes every symlink and name check, and so does a committed copy under an
ordinary name. read_file refuses it (disk and git revisions) and a change's diff withholds it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from personas.changes import resolve_changes
from personas.changes.snapshot import GitSnapshot
from personas.runtime.sandbox import ProjectSandbox, SandboxError
from tests.review.gitrepo import commit, make_repo, write

KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def test_a_hard_link_to_a_key_outside_is_not_read_nor_shown_in_the_working_diff(tmp_path: Path) -> None:
    home_key = tmp_path / "home" / ".ssh" / "id_ed25519"
    home_key.parent.mkdir(parents=True)
    home_key.write_text(KEY)
    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    os.link(home_key, repo / "notes.txt")  # same inode: no symlink anywhere

    with pytest.raises(SandboxError, match="holds a private key"):
        ProjectSandbox(repo, max_file_bytes=100_000).read_text("notes.txt")


async def test_the_working_diff_withholds_an_untracked_key_under_any_name(tmp_path: Path) -> None:
    home_key = tmp_path / "home" / ".ssh" / "id_ed25519"
    home_key.parent.mkdir(parents=True)
    home_key.write_text(KEY)
    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    os.link(home_key, repo / "notes.txt")

    changes = await resolve_changes(repo, "working")

    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in changes.diff
    assert (
        "diff --git a/notes.txt b/notes.txt\n(a file holding a private key: its content is not shown)" in changes.diff
    )


async def test_a_committed_key_under_an_ordinary_name_is_withheld_in_a_range(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    write(repo, {"deploy/server-key.txt": KEY, "app.py": "x = 2\n"})
    commit(repo, "deploy key")

    changes = await resolve_changes(repo, "HEAD~1..HEAD")

    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in changes.diff and "+x = 2" in changes.diff
    snapshot = GitSnapshot(repo, "HEAD", max_file_bytes=100_000)
    with pytest.raises(SandboxError, match="holds a private key"):
        snapshot.read_text("deploy/server-key.txt")


def test_a_remote_clients_diff_withholds_a_key_under_any_name() -> None:
    from personas.changes.supplied import supplied_changes

    diff = (
        "diff --git a/notes.txt b/notes.txt\nnew file mode 100644\n--- /dev/null\n+++ b/notes.txt\n@@ -0,0 +1,3 @@\n"
        + "".join(f"+{line}\n" for line in KEY.splitlines())
    )
    changes = supplied_changes(diff, max_diff_chars=100_000)
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in changes.diff
    assert "(a file holding a private key: its content is not shown)" in changes.diff
