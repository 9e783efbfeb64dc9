"""The final answer of a run: the submit_review payload and its Markdown rendering."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITY_ORDER: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")


class Finding(BaseModel):
    """One issue or observation."""

    model_config = ConfigDict(extra="forbid")

    severity: Severity = Field(description="critical | high | medium | low | info, as defined in your instructions.")
    title: str = Field(min_length=1, max_length=200, description="One line naming the issue.")
    detail: str = Field(min_length=1, max_length=8000, description="What is wrong, the evidence and the impact.")
    location: str | None = Field(
        default=None, max_length=500, description="'file:line' or a component, e.g. 'api/login.py:42'."
    )
    standard_refs: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Standards this rests on, each 'file#heading' exactly as a search_standards "
        "result's ref, e.g. 'security/secrets-management.md#The rule'. Empty when no team standard covers "
        "it.",
    )
    recommendation: str = Field(min_length=1, max_length=8000, description="The concrete fix.")

    @field_validator("severity", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class ReviewSubmission(BaseModel):
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


def render_review(persona_name: str, review: ReviewSubmission, proposals: list[dict[str, Any]]) -> str:
    """Markdown: summary, a findings table, one section per finding, then proposed standards."""
    parts = [f"# {persona_name} review", review.summary.strip()]
    findings = review.ordered_findings()
    if findings:
        rows = ["| # | Severity | Finding | Location |", "|---|---|---|---|"]
        rows += [
            f"| {i} | {f.severity} | {_cell(f.title)} | {_cell(f.location or '—')} |"
            for i, f in enumerate(findings, start=1)
        ]
        parts.append("## Findings\n\n" + "\n".join(rows))
        for i, f in enumerate(findings, start=1):
            section = [f"### {i}. [{f.severity.upper()}] {f.title}"]
            if f.location:
                section.append(f"**Location:** `{f.location}`")
            section.append(f.detail.strip())
            section.append(f"**Recommendation:** {f.recommendation.strip()}")
            if f.standard_refs:
                section.append("**Standards:** " + ", ".join(f"`{ref}`" for ref in f.standard_refs))
            parts.append("\n\n".join(section))
    else:
        parts.append("## Findings\n\nNo findings.")
    proposal_lines = _proposal_lines(proposals, review.proposed_standards)
    if proposal_lines:
        parts.append("## Proposed standards\n\n" + "\n".join(proposal_lines))
    return "\n\n".join(parts) + "\n"


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
