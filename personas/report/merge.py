"""Merging the findings of a panel: the same issue raised by several personas becomes one finding.

Two findings match when they are in the same place and about the same thing:

- place: the same file with overlapping lines (or lines at most ``NEAR_LINES`` apart; a finding
  without a line matches any line of its file), or, for findings without a file, the same
  normalised free-form location;
- thing: normalised titles sharing at least half their words (Jaccard ≥ ``TITLE_SIMILARITY``), or
  a team standard cited by both.

The merged finding is the most severe of the group (first raised on ties); it lists every persona
that raised the issue, cites every standard any of them cited, and keeps the others' ids in
``related_ids`` so a dismissal covers all of them.
"""

from __future__ import annotations

from personas.runtime.findings import normalise_title
from personas.runtime.review import SEVERITY_ORDER, Finding

NEAR_LINES = 3
TITLE_SIMILARITY = 0.5


def _same_place(a: Finding, b: Finding) -> bool:
    if a.file is None or b.file is None:
        if a.file is not None or b.file is not None or not a.location or not b.location:
            return False
        return " ".join(a.location.lower().split()) == " ".join(b.location.lower().split())
    if a.file != b.file:
        return False
    if a.line is None or b.line is None:
        return True
    a_end, b_end = a.end_line or a.line, b.end_line or b.line
    return a.line <= b_end + NEAR_LINES and b.line <= a_end + NEAR_LINES


def _same_thing(a: Finding, b: Finding) -> bool:
    if set(a.standard_refs) & set(b.standard_refs):
        return True
    words_a, words_b = set(normalise_title(a.title).split()), set(normalise_title(b.title).split())
    if not words_a or not words_b:
        return False
    return len(words_a & words_b) / len(words_a | words_b) >= TITLE_SIMILARITY


def matches(a: Finding, b: Finding) -> bool:
    return _same_place(a, b) and _same_thing(a, b)


def merge_findings(findings: list[Finding]) -> list[Finding]:
    """One finding per issue (input in panel order), ordered critical → info, then by location."""
    groups: list[list[Finding]] = []
    for finding in findings:
        for group in groups:
            if any(matches(finding, other) for other in group):
                group.append(finding)
                break
        else:
            groups.append([finding])
    merged = [_combine(group) for group in groups]
    return sorted(merged, key=lambda f: (SEVERITY_ORDER.index(f.severity), f.file or "~", f.line or 0))


def _combine(group: list[Finding]) -> Finding:
    primary = min(group, key=lambda f: SEVERITY_ORDER.index(f.severity))
    personas = list(dict.fromkeys(p for f in group for p in f.personas))
    refs = list(dict.fromkeys(r for f in group for r in f.standard_refs))[:20]
    related = [f.id for f in group if f.id and f.id != primary.id]
    related += [r for f in group for r in f.related_ids]
    return primary.model_copy(
        update={"personas": personas, "standard_refs": refs, "related_ids": list(dict.fromkeys(related))}
    )
