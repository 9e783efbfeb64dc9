"""The final answer of a run: the submit_review payload and its Markdown rendering."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from standards.lazy_model import LazyModel

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITY_ORDER: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
SERVER_SET_KEY = "x-server-set"
SERVER_SET: dict[str, Any] = {SERVER_SET_KEY: True}
"""Schema mark of a field agent-personas fills after a run: not in the schema the model fills in."""


class Finding(LazyModel):
    """One issue or observation."""

    model_config = ConfigDict(extra="forbid")

    severity: Severity = Field(description="critical | high | medium | low | info, as defined in your instructions.")
    title: str = Field(min_length=1, max_length=200, description="One line naming the issue.")
    detail: str = Field(min_length=1, max_length=8000, description="What is wrong, the evidence and the impact.")
    location: str | None = Field(
        default=None, max_length=500, description="'file:line' or a component, e.g. 'api/login.py:42'."
    )
    file: str | None = Field(
        default=None,
        max_length=500,
        description="The file the issue is in, relative to the project root, e.g. 'api/login.py'. Omit when the "
        "finding is not about one file.",
    )
    line: int | None = Field(
        default=None, ge=1, description="First line of the issue in that file, as read_file numbers it."
    )
    end_line: int | None = Field(
        default=None, ge=1, description="Last line of the issue (inclusive), if it spans lines."
    )
    standard_refs: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Standards this rests on, each 'file#heading' exactly as a search_standards "
        "result's ref, e.g. 'security/secrets-management.md#The rule'. Empty when no team standard covers "
        "it.",
    )
    recommendation: str = Field(min_length=1, max_length=8000, description="The concrete fix.")
    # Set by agent-personas after the run, never by the model: left out of the run tool's schema
    # (personas/runtime/tools.py drops SERVER_SET properties), shown in the job report's schema.
    id: str | None = Field(
        default=None,
        description="Stable fingerprint (persona, normalised title, file, the code it points at).",
        json_schema_extra=SERVER_SET,
    )
    in_change: bool | None = Field(
        default=None,
        description="Whether the lines are part of the reviewed change; None without 'changes'.",
        json_schema_extra=SERVER_SET,
    )
    personas: list[str] = Field(
        default_factory=list, description="Personas that raised it.", json_schema_extra=SERVER_SET
    )
    related_ids: list[str] = Field(
        default_factory=list,
        description="Fingerprints of the same issue raised by other personas of a panel.",
        json_schema_extra=SERVER_SET,
    )

    def where(self) -> str | None:
        """'file:line-end' when located, else the free-form location."""
        if self.file is None:
            return self.location
        if self.line is None:
            return self.file
        end = f"-{self.end_line}" if self.end_line and self.end_line != self.line else ""
        return f"{self.file}:{self.line}{end}"

    @field_validator("severity", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class ReviewSubmission(LazyModel):
    """The final structured review."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(
        min_length=1,
        max_length=20_000,
        description="Short Markdown: verdict, top risks, what was not reviewed.",
    )
    findings: list[Finding] = Field(
        default_factory=list, max_length=100, description="Ordered critical → info. An empty list is valid."
    )
    proposed_standards: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Ids returned by propose_standard in this run (empty if you proposed none).",
    )

    def ordered_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: SEVERITY_ORDER.index(f.severity))


def _cell(value: str) -> str:
    return " ".join(value.split()).replace("|", "\\|")


def _proposal_lines(proposals: list[dict[str, Any]], listed: list[str]) -> list[str]:
    lines = [
        f"- `{p['domain']}/{p['topic']}`: {p['title']} (draft `{p['id']}`, awaiting human approval)" for p in proposals
    ]
    known = {str(p["id"]) for p in proposals} | {f"{p['domain']}/{p['topic']}" for p in proposals}
    lines += [
        f"- {item} (named by the reviewer; no draft was stored in this run)" for item in listed if item not in known
    ]
    return lines


def render_review(
    persona_name: str, review: ReviewSubmission, proposals: list[dict[str, Any]], *, hidden: int = 0
) -> str:
    """Markdown: summary, a findings table, one section per finding, then proposed standards."""
    parts = [f"# {persona_name} review", review.summary.strip()]
    parts += render_findings(review.ordered_findings(), hidden=hidden)
    proposal_lines = _proposal_lines(proposals, review.proposed_standards)
    if proposal_lines:
        parts.append("## Proposed standards\n\n" + "\n".join(proposal_lines))
    return "\n\n".join(parts) + "\n"


def render_findings(findings: list[Finding], *, hidden: int = 0, by_persona: bool = False) -> list[str]:
    """The findings table and one section per finding (Markdown parts)."""
    parts: list[str] = []
    if findings:
        rows = ["| # | Severity | Finding | Location |", "|---|---|---|---|"]
        rows += [
            f"| {i} | {f.severity} | {_cell(f.title)} | {_cell(f.where() or '—')} |"
            for i, f in enumerate(findings, start=1)
        ]
        parts.append("## Findings\n\n" + "\n".join(rows))
        for i, f in enumerate(findings, start=1):
            section = [f"### {i}. [{f.severity.upper()}] {f.title}"]
            where = f.where()
            if where:
                section.append(f"**Location:** `{where}`" + (" (outside the change)" if f.in_change is False else ""))
            if by_persona and f.personas:
                section.append("**Raised by:** " + ", ".join(f.personas))
            section.append(f.detail.strip())
            section.append(f"**Recommendation:** {f.recommendation.strip()}")
            if f.standard_refs:
                section.append("**Standards:** " + ", ".join(f"`{ref}`" for ref in f.standard_refs))
            if f.id:
                section.append(f"_Finding id `{f.id}` (dismiss a false positive with dismiss_finding)._")
            parts.append("\n\n".join(section))
    else:
        parts.append("## Findings\n\nNo findings.")
    if hidden:
        parts.append(
            f"_{hidden} more finding(s) below min_severity or without a cited standard (cited_only) are not shown; "
            "the job keeps them all._"
        )
    return parts


def render_text_answer(persona_name: str, text: str, proposals: list[dict[str, Any]]) -> str:
    """The model ended its turn with prose instead of submit_review: keep the prose as the review."""
    parts = [
        f"# {persona_name} review",
        text.strip(),
        "_Answered in prose: no structured findings were recorded._",
    ]
    proposal_lines = _proposal_lines(proposals, [])
    if proposal_lines:
        parts.append("## Proposed standards\n\n" + "\n".join(proposal_lines))
    return "\n\n".join(parts) + "\n"
