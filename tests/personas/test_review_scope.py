"""The files under review that a run scopes its standards searches to."""

from __future__ import annotations

from pathlib import Path

from personas.changes.models import ChangedFile, ChangeSet
from personas.runtime.models import RunRequest
from personas.runtime.review_scope import files_under_review


def test_changed_files_then_named_files_in_the_context(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "users.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("# hi\n")
    (tmp_path.parent / "outside.py").write_text("no\n")
    changes = ChangeSet(
        spec="working",
        kind="working",
        base="0" * 40,
        head=None,
        diff="",
        diff_chars=0,
        files=[
            ChangedFile(path="web/app.ts", status="added"),
            ChangedFile(path="billing/new.py", status="renamed", old_path="billing/old.py"),
        ],
    )
    context = "\n".join(
        [
            "Please look at these:",
            "api/users.py",
            f"{tmp_path}/README.md",
            "../outside.py",
            str(tmp_path.parent / "outside.py"),
            "missing/file.py",
            "api/users.py",
        ]
    )
    request = RunRequest(job_id="j1", task="review", context=context, changes=changes)
    assert files_under_review(request, tmp_path) == [
        "web/app.ts",
        "billing/new.py",
        "billing/old.py",
        "api/users.py",
        "README.md",
    ]
    assert files_under_review(RunRequest(job_id="j2", task="review"), tmp_path) == []
