"""Only newline ends a line of a diff. str.splitlines also cut at form feeds, U+2028, U+0085…, so a
changed line 'x\\x0cdiff --git …' started a section of its own: git's sections no longer matched its
file list and the whole diff was withheld from the reviewer (one line in a PR hid every change)."""

from __future__ import annotations

from pathlib import Path

from personas.changes import resolve_changes
from personas.changes.supplied import supplied_changes
from tests.review.gitrepo import commit, make_repo, write

APP = "def login(user):\n    return True\n"


async def test_a_form_feed_line_cannot_hide_the_diff(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": APP, "util.py": "x = 1\n"})
    write(repo, {"app.py": APP + "# page\x0cdiff --git a/z b/z\n", "util.py": "x = 2\u2028y = 3\n"})
    commit(repo, "change")

    changes = await resolve_changes(repo, "HEAD~1..HEAD")

    assert [f.path for f in changes.files] == ["app.py", "util.py"]
    assert "could not be split" not in changes.diff
    assert "+# page\x0cdiff --git a/z b/z" in changes.diff and "+x = 2\u2028y = 3" in changes.diff
    assert [(r.start, r.end) for r in changes.files[0].ranges] == [(3, 3)]
    assert [(r.start, r.end) for r in changes.files[1].ranges] == [(1, 1)]


def test_supplied_diffs_split_on_newlines_only_and_accept_crlf() -> None:
    diff = (
        "diff --git a/app.py b/app.py\r\n--- a/app.py\r\n+++ b/app.py\r\n@@ -1,2 +1,3 @@\r\n"
        " def login(user):\r\n-    return True\r\n+    x = 1\x0cdiff --git a/.env b/.env\r\n+    return False\r\n"
    )
    changes = supplied_changes(diff, max_diff_chars=10_000)
    assert [f.path for f in changes.files] == ["app.py"]
    assert [(r.start, r.end) for r in changes.files[0].ranges] == [(2, 3)]
