"""Unified diffs as text: changed line ranges of each file section, new-file diffs, the size cap."""

from __future__ import annotations

import re

from personas.changes.models import LineRange

HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
SECTION_START = "diff --git "


def split_lines(text: str) -> list[str]:
    """``text`` cut after each newline (ends kept). Only ``\\n`` ends a line of a diff: ``str.splitlines``
    also cuts at form feeds, U+2028, U+0085 and other characters a file's own lines may hold, and a
    changed line ``x\\x0cdiff --git …`` would then start a section of its own."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def split_sections(diff: str) -> list[str]:
    """The diff cut into one section per file (each starting with ``diff --git``)."""
    sections: list[str] = []
    current: list[str] = []
    for line in split_lines(diff):
        if line.startswith(SECTION_START) and current:
            sections.append("".join(current))
            current = []
        current.append(line)
    if current:
        sections.append("".join(current))
    return [s for s in sections if s.startswith(SECTION_START)]


def changed_ranges(section: str) -> list[LineRange]:
    """Lines of the new file that a file's diff section adds or modifies, as merged ranges.

    A pure deletion marks the line that now stands where the deleted lines were."""
    lines: list[int] = []
    new_line = 0
    in_hunk = False
    for raw in section.split("\n"):
        match = HUNK.match(raw)
        if match:
            new_line = int(match.group(1))
            in_hunk = True
            continue
        if not in_hunk or not raw:
            continue
        mark = raw[0]
        if mark == "+":
            lines.append(new_line)
            new_line += 1
        elif mark == "-":
            lines.append(max(new_line, 1))
        elif mark == " ":
            new_line += 1
    return merge_lines(lines)


def merge_lines(lines: list[int]) -> list[LineRange]:
    ranges: list[LineRange] = []
    for line in sorted(set(lines)):
        if ranges and line <= ranges[-1].end + 1:
            ranges[-1].end = line
        else:
            ranges.append(LineRange(start=line, end=line))
    return ranges


def new_file_section(path: str, data: bytes, *, max_bytes: int) -> tuple[str, bool, int]:
    """A ``git diff``-style section adding ``path`` with ``data``: (section, binary, line count)."""
    head = f"diff --git a/{path} b/{path}\nnew file (untracked)\n"
    if b"\x00" in data[:8000]:
        return head + f"Binary files /dev/null and b/{path} differ\n", True, 0
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return head + f"Binary files /dev/null and b/{path} differ (not UTF-8)\n", True, 0
    lines = [line.removesuffix("\n") for line in split_lines(text)]
    if len(data) > max_bytes:
        return (
            head + f"(new file of {len(data):,} bytes and {len(lines):,} lines: too large to show here)\n",
            False,
            len(lines),
        )
    body = "".join(f"+{line}\n" for line in lines)
    return head + f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}", False, len(lines)


def withheld_section(path: str, why: str) -> str:
    return f"diff --git a/{path} b/{path}\n({why}: its content is not shown)\n"


def cap(sections: list[tuple[str, str]], max_chars: int) -> tuple[str, bool]:
    """Join ``(path, section)`` pairs up to ``max_chars``, whole sections first, with a note on what was cut."""
    total = sum(len(s) for _, s in sections)
    if total <= max_chars:
        return "".join(s for _, s in sections), False
    kept: list[str] = []
    used = 0
    omitted: list[str] = []
    for path, section in sections:
        if used + len(section) <= max_chars:
            kept.append(section)
            used += len(section)
        elif not kept and not omitted:
            cut = section[:max_chars].rsplit("\n", 1)[0] + "\n"
            kept.append(cut + f"[… the diff of {path} is cut here]\n")
            used += len(cut)
        else:
            omitted.append(path)
    names = ", ".join(omitted[:20]) + (f" and {len(omitted) - 20} more" if len(omitted) > 20 else "")
    note = (
        f"\n[diff truncated: {used:,} of {total:,} characters shown (the cap is {max_chars:,}, "
        "PERSONAS_MAX_DIFF_CHARS)."
        + (f" Not shown: the diffs of {names}." if omitted else "")
        + " The list of changed files is complete: read the files you were not shown with read_file.]\n"
    )
    return "".join(kept) + note, True
