"""Render a :class:`ReviewReport` in one of the formats, and the exit code of a review gate."""

from __future__ import annotations

import json
import textwrap

from personas.report.model import ReportFormat, ReviewReport
from personas.report.sarif import to_sarif
from personas.report.workflow_commands import neutralise_json, neutralise_text
from personas.runtime.review import SEVERITY_ORDER, Severity


def exit_code(report: ReviewReport, fail_on: Severity | None) -> int:
    """0: nothing at or above ``fail_on`` among the reported findings; 1: something was found."""
    if fail_on is None:
        return 0
    floor = SEVERITY_ORDER.index(fail_on)
    return 1 if any(SEVERITY_ORDER.index(f.severity) <= floor for f in report.findings) else 0


def _text(report: ReviewReport) -> str:
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in SEVERITY_ORDER}
    tally = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no findings"
    scope = f" of {report.changes}" if report.changes else ""
    lines = [f"agent-personas review{scope}: {tally}"]
    for member in report.personas:
        extra = f" ({member.error})" if member.error else ""
        lines.append(f"  {member.persona}: {member.status}, {member.findings} finding(s){extra}")
    for finding in report.findings:
        lines.append("")
        who = f" [{', '.join(finding.personas)}]" if finding.personas else ""
        lines.append(f"{finding.severity.upper():8} {finding.where() or '(no location)'}  {finding.title}{who}")
        for label, body in (("", finding.detail), ("fix: ", finding.recommendation)):
            lines += textwrap.wrap(
                label + " ".join(body.split()), width=100, initial_indent="    ", subsequent_indent="    "
            )
        if finding.standard_refs:
            lines.append("    standards: " + ", ".join(finding.standard_refs))
        if finding.id:
            lines.append(f"    id: {finding.id}")
    if report.hidden_findings:
        lines += ["", f"{report.hidden_findings} finding(s) below --min-severity or uncited (--cited-only) not shown."]
    if report.error:
        lines += ["", f"error: {report.error}"]
    return "\n".join(lines) + "\n"


def render(report: ReviewReport, fmt: ReportFormat, *, version: str, path_prefix: str = "") -> str:
    """The report in ``fmt``; model-written text cannot form a CI runner's workflow command (``::error``…)."""
    if fmt == "json":
        return neutralise_json(report.model_dump_json(indent=2) + "\n")
    if fmt == "sarif":
        return neutralise_json(json.dumps(to_sarif(report, version=version, path_prefix=path_prefix), indent=2) + "\n")
    if fmt == "markdown":
        return neutralise_text(report.markdown if report.markdown.endswith("\n") else report.markdown + "\n")
    return neutralise_text(_text(report))
