"""Findings after a run: located (file, line), placed against the change, fingerprinted, filtered.

A finding's ``id`` is a fingerprint of the persona, its normalised title, its file and the code it
points at (the text of its lines, whitespace-normalised), never the line number: inserting lines
above it does not change it, so a dismissal keeps matching.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Protocol

from personas.changes.models import ChangeSet
from personas.runtime.review import SEVERITY_ORDER, Finding, Severity
from personas.runtime.sandbox import FileText, SandboxError, check_relative

LOCATION = re.compile(r"^\s*`?(?P<file>[^\s:`]+?)(?::(?P<line>\d+)(?:\s*[-–]\s*(?P<end>\d+))?)?`?\s*$")
MAX_FINGERPRINT_LINES = 12


class FileReader(Protocol):
    def read_text(self, raw: str) -> FileText: ...


def normalise_title(title: str) -> str:
    """Lower case, words only; numbers (line counts, line numbers) dropped."""
    words = re.findall(r"[a-z_][a-z0-9_]*", title.lower())
    return " ".join(words)


def _code(
    reader: FileReader | None, file: str | None, line: int | None, end: int | None, cache: dict[str, list[str]]
) -> str:
    if reader is None or file is None or line is None:
        return ""
    if file not in cache:
        try:
            cache[file] = reader.read_text(file).text.splitlines()
        except SandboxError:
            cache[file] = []
    lines = cache[file]
    last = min(max(line, end or line), line + MAX_FINGERPRINT_LINES - 1)
    return "\n".join(" ".join(text.split()) for text in lines[line - 1 : last])


def fingerprint(persona: str, title: str, file: str | None, code: str, location: str | None = None) -> str:
    where = file if file is not None else " ".join((location or "").lower().split())
    payload = "\x1f".join((persona, normalise_title(title), where, code))
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def locate(finding: Finding) -> Finding:
    """Fill ``file``/``line``/``end_line`` from ``location`` ('path:line' or 'path:line-end') when missing."""
    updates: dict[str, object] = {}
    file, line, end = finding.file, finding.line, finding.end_line
    if file is None and finding.location:
        match = LOCATION.match(finding.location)
        if match and ("/" in match.group("file") or "." in match.group("file")):
            file = match.group("file")
            line = line or (int(match.group("line")) if match.group("line") else None)
            end = end or (int(match.group("end")) if match.group("end") else None)
    if file is not None:
        try:
            file = check_relative(file, "path").replace("\\", "/").removeprefix("./")
        except SandboxError:
            file, line, end = None, None, None
    if end is not None and line is not None and end < line:
        end = None
    updates.update(file=file, line=line if file else None, end_line=end if file else None)
    return finding.model_copy(update=updates)


def finalize(
    findings: Iterable[Finding], persona: str, changes: ChangeSet | None, reader: FileReader | None
) -> list[Finding]:
    """Locate, place against the change and fingerprint every finding (the order is kept)."""
    cache: dict[str, list[str]] = {}
    done: list[Finding] = []
    for raw in findings:
        finding = locate(raw)
        in_change: bool | None = None
        if changes is not None:
            in_change = bool(
                finding.file and finding.line and changes.in_change(finding.file, finding.line, finding.end_line)
            )
        code = _code(reader, finding.file, finding.line, finding.end_line, cache)
        fid = fingerprint(persona, finding.title, finding.file, code, finding.location)
        done.append(finding.model_copy(update={"id": fid, "in_change": in_change, "personas": [persona]}))
    return done


def visible(findings: Iterable[Finding], min_severity: Severity | None, cited_only: bool) -> list[Finding]:
    """The findings at or above ``min_severity`` (and, with ``cited_only``, citing a team standard)."""
    floor = SEVERITY_ORDER.index(min_severity) if min_severity else len(SEVERITY_ORDER)
    return [f for f in findings if SEVERITY_ORDER.index(f.severity) <= floor and (not cited_only or f.standard_refs)]
