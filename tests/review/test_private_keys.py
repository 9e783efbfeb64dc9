"""A private key is never sent to the model, whatever the file is called: a hard link inside the project
to ~/.ssh/id_ed25519 passes every symlink and name check, and so does a committed copy under an
ordinary name. read_file refuses it (disk and git revisions) and a change's diff withholds it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from personas.changes import resolve_changes
from personas.changes.snapshot import GitSnapshot
from personas.runtime.private_keys import PRIVATE_KEY_WITHHELD
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
    assert f"diff --git a/notes.txt b/notes.txt\n({PRIVATE_KEY_WITHHELD}: its content is not shown)" in changes.diff


async def test_a_committed_key_under_an_ordinary_name_is_withheld_in_a_range(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    write(repo, {"deploy/server-key.txt": KEY, "app.py": "x = 2\n"})
    commit(repo, "deploy key")

    changes = await resolve_changes(repo, "HEAD~1..HEAD")

    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in changes.diff and "+x = 2" in changes.diff
    snapshot = GitSnapshot(repo, "HEAD", max_file_bytes=100_000)
    with pytest.raises(SandboxError, match="holds a private key"):
        snapshot.read_text("deploy/server-key.txt")


async def test_a_key_planted_to_hide_a_files_change_is_a_finding_for_the_reviewer(tmp_path: Path) -> None:
    """Withholding must never pass quietly: a pull request that adds a key block to auth.py to keep its
    backdoor out of the review makes the reviewer report the key (and say the file went unreviewed)."""
    repo = make_repo(tmp_path / "repo", {"auth.py": "def check(token):\n    return verify(token)\n"})
    write(repo, {"auth.py": 'def check(token):\n    return True  # backdoor\n\nKEY = """' + KEY + '"""\n'})
    commit(repo, "refactor auth")

    changes = await resolve_changes(repo, "HEAD~1..HEAD")

    assert "backdoor" not in changes.diff
    section = changes.diff.split("diff --git a/auth.py b/auth.py\n", 1)[1]
    assert "a committed private key is itself a finding to report" in section
    assert "none of this file's change can be reviewed" in section
    with pytest.raises(SandboxError, match="itself a finding to report"):
        GitSnapshot(repo, "HEAD", max_file_bytes=100_000).read_text("auth.py")


def test_a_remote_clients_diff_withholds_a_key_under_any_name() -> None:
    from personas.changes.supplied import supplied_changes

    diff = (
        "diff --git a/notes.txt b/notes.txt\nnew file mode 100644\n--- /dev/null\n+++ b/notes.txt\n@@ -0,0 +1,3 @@\n"
        + "".join(f"+{line}\n" for line in KEY.splitlines())
    )
    changes = supplied_changes(diff, max_diff_chars=100_000)
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in changes.diff
    assert f"({PRIVATE_KEY_WITHHELD}: its content is not shown)" in changes.diff


PARSER = (
    "BEGIN = '-----BEGIN RSA PRIVATE KEY-----'\n"
    "END = '-----END RSA PRIVATE KEY-----'\n\n\n"
    "def is_pem_key(text: str) -> bool:\n"
    "    return text.startswith(BEGIN) and END in text  # TODO: also accept OpenSSH keys\n"
)
DOCS = "# Keys\n\nNever commit a file holding a `-----BEGIN PRIVATE KEY-----` block; load it from the vault.\n"


async def test_code_and_docs_that_only_name_the_armour_line_are_read_and_reviewed(tmp_path: Path) -> None:
    """A key-loading module or a secrets guide was refused to read_file and its whole diff withheld, so
    the reviewer never saw the code that handles keys (and a PR could hide any file with one comment)."""
    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    write(repo, {"keys.py": PARSER, "docs/keys.md": DOCS})
    commit(repo, "key parser")

    sandbox = ProjectSandbox(repo, max_file_bytes=100_000)
    assert sandbox.read_text("keys.py").text == PARSER
    assert sandbox.read_text("docs/keys.md").text == DOCS
    changes = await resolve_changes(repo, "HEAD~1..HEAD")
    assert "+    return text.startswith(BEGIN) and END in text" in changes.diff
    assert "+Never commit a file holding a" in changes.diff and "not shown" not in changes.diff


@pytest.mark.parametrize(
    "text",
    [
        KEY,
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n'
        'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\\n-----END PRIVATE KEY-----\\n"}\n',
        'KEY = (\n    "-----BEGIN EC PRIVATE KEY-----\\n"\n'
        '    "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oVmMzbEjMBBqoAoGCCqGSM49\\n"\n)\n',
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
        "DEK-Info: AES-128-CBC,5A1F0E4C3B2A19080706050403020100\n\n"
        "kP3Xr8dV0nQ2yH7bLw9sT4eJ1cM6uZ5aR0fG8hK2jN3pQ7vW1xY4zB6nC9mE2dS\n-----END RSA PRIVATE KEY-----\n",
    ],
    ids=["openssh", "service-account-json", "python-literal", "encrypted-pem"],
)
def test_a_key_with_its_material_is_still_refused(tmp_path: Path, text: str) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n", "notes.txt": text})
    with pytest.raises(SandboxError, match="holds a private key"):
        ProjectSandbox(repo, max_file_bytes=100_000).read_text("notes.txt")
