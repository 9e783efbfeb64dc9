"""Change-review arguments shared by the invoke tools; invoke_panel and dismiss_finding (issue 13)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

Changes = Annotated[
    str | None,
    Field(
        description="Review a change instead of the whole project: 'working' (uncommitted: staged, unstaged and "
        "untracked), 'staged' (what the next commit would contain), or a git range such as 'origin/main...HEAD' "
        "(a branch since it left main) or 'HEAD~3' (the last three commits). The persona sees the diff and reads "
        "the files as of the change's head.",
        max_length=200,
    ),
]
MinSeverity = Annotated[
    Literal["critical", "high", "medium", "low", "info"] | None,
    Field(description="Report only findings at or above this severity (the job keeps the rest)."),
]
CitedOnly = Annotated[
    bool, Field(description="Report only findings that cite a team standard (the job keeps the rest).")
]
