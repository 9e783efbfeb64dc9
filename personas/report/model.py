"""What a report is made of: the job's outcome, its visible findings and a summary per persona."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from personas.runtime.review import Finding
from standards.lazy_model import LazyModel

ReportFormat = Literal["text", "markdown", "json", "sarif"]
FORMATS: tuple[ReportFormat, ...] = ("text", "markdown", "json", "sarif")


class MemberSummary(LazyModel):
    """One persona's part of the review."""

    persona: str
    status: str
    findings: int = 0
    tokens_input: int = 0
    tokens_output: int = 0
    error: str | None = None


class ReviewReport(LazyModel):
    job_id: str
    status: str
    task: str
    changes: str | None = None
    personas: list[MemberSummary] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list, description="Ordered by severity; filters applied.")
    hidden_findings: int = Field(default=0, description="Left out by min_severity / cited_only.")
    markdown: str = Field(default="", description="The review as Markdown (the job's result).")
    error: str | None = None
