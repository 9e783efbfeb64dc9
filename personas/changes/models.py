"""A resolved change: what the persona is shown and what findings are located against."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from standards.control_chars import one_line
from standards.lazy_model import LazyModel

FileStatus = Literal["added", "modified", "deleted", "renamed", "copied", "type_changed", "untracked"]
ChangeKind = Literal["working", "staged", "range", "supplied"]
INDEX_HEAD = ":"
"""``head`` of a staged change: the files are read from git's index (what would be committed)."""


class LineRange(LazyModel):
    start: int = Field(ge=1)
    end: int = Field(ge=1)


class ChangedFile(LazyModel):
    path: str = Field(description="Path relative to the project root (the old path for a deleted file).")
    status: FileStatus
    old_path: str | None = Field(default=None, description="The path before a rename or copy.")
    binary: bool = False
    ranges: list[LineRange] = Field(
        default_factory=list,
        description="Lines of the new file that the change added or modified (a deletion marks the line after it).",
    )

    def describe(self) -> str:
        """One line for the prompt's list of changed files (outside the diff's data block: a name with
        newlines or escapes, which git allows, is shown escaped and cannot start lines of its own)."""
        path = one_line(self.path)
        what = f"{self.status} (from {one_line(self.old_path)})" if self.old_path else self.status
        if self.binary:
            return f"- {path}: {what}, binary"
        lines = ", ".join(f"{r.start}" if r.start == r.end else f"{r.start}-{r.end}" for r in self.ranges)
        return f"- {path}: {what}" + (f", changed lines {lines}" if lines else "")


class ChangeSet(LazyModel):
    """One ``changes`` value resolved at submit time, in the project root."""

    spec: str = Field(
        description="What was asked for: 'working', 'staged', a git range, or 'supplied' (a client's diff)."
    )
    kind: ChangeKind
    base: str = Field(description="The commit compared against (git's empty tree in a repo without commits).")
    head: str | None = Field(
        description="Commit the files are read at; ':' = the index (staged); None = the working tree."
    )
    diff: str = Field(description="The unified diff, cut at the size cap with a note saying so.")
    diff_chars: int = Field(description="Size of the whole diff before the cap.")
    truncated: bool = False
    files: list[ChangedFile] = Field(default_factory=list)

    def file(self, path: str) -> ChangedFile | None:
        for changed in self.files:
            if changed.path == path:
                return changed
        return None

    def in_change(self, path: str, line: int, end_line: int | None = None) -> bool:
        """Is any line of ``line``..``end_line`` of ``path`` part of the change?"""
        changed = self.file(path)
        if changed is None:
            return False
        if changed.status in ("added", "untracked"):
            return True
        last = max(line, end_line or line)
        return any(r.start <= last and line <= r.end for r in changed.ranges)

    def title(self) -> str:
        if self.kind == "working":
            return "uncommitted changes in the working tree (staged, unstaged and untracked)"
        if self.kind == "staged":
            return "staged changes (what the next commit would contain)"
        if self.kind == "supplied":
            return "the change the client sent as a unified diff"
        return f"the commits in {self.spec} ({self.base[:12]}..{(self.head or '')[:12]})"
