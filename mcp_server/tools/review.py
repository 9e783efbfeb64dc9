"""Change-review arguments shared by the invoke tools; invoke_panel and dismiss_finding (issue 13)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

Changes = Annotated[
    str | None,
    Field(
        description="Review a change, not the whole project: 'working' (uncommitted), 'staged', or a git range "
        "such as 'origin/main...HEAD'.",
        max_length=200,
    ),
]
MinSeverity = Annotated[
    Literal["critical", "high", "medium", "low", "info"] | None,
    Field(description="Report only findings at or above this severity."),
]
CitedOnly = Annotated[bool, Field(description="Report only findings citing a team standard.")]
