"""What the approval operations return, and their errors (pydantic models: the tools' output schemas)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from standards.lazy_model import LazyModel

Action = Literal["create", "update"]
ProposalStatus = Literal["draft", "changes_requested", "approved", "rejected"]
ApprovalTarget = Literal["project", "shared"]
StatusFilter = Literal["open", "all", "draft", "changes_requested", "approved", "rejected"]


class ProposalError(ValueError):
    """The request cannot be done as asked; the message says why and what to do instead."""


class UnknownProposalError(LookupError):
    def __init__(self, proposal_id: str) -> None:
        super().__init__(
            f"No standard proposal with id {proposal_id!r}. list_standard_proposals shows the ids "
            "(`personas standards list` in a terminal)."
        )


def iso_time(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class ProposalSummary(LazyModel):
    id: str
    domain: str
    topic: str
    title: str
    status: ProposalStatus
    version: int = Field(description="Revision number of the proposal; each revision run adds one.")
    proposed_by: str = Field(description="The persona that proposed it.")
    action: Action = Field(description="'create' = a new standard; 'update' = replaces an existing one.")
    file: str = Field(description="Where it is (or will be) written, relative to the standards folder.")
    feedback: str | None = Field(description="The last feedback given (changes requested, or why rejected).")
    updated_at: str | None


class ProposalList(LazyModel):
    proposals: list[ProposalSummary]
    counts: dict[str, int] = Field(description="How many proposals are in each status.")
    message: str


class ProposalDetail(ProposalSummary):
    content: str = Field(description="The proposed Markdown (without front matter).")
    rationale: str
    job_id: str | None = Field(description="The persona job that proposed (or last revised) it.")
    revision_job_id: str | None = Field(description="The revision job queued by the last request for changes.")
    created_at: str | None
    path: str = Field(description="Absolute path of the target file.")
    diff: str | None = Field(
        description="For an update: unified diff of the current file against what approval would write."
    )
    approvable: bool = Field(description="Whether approve_standard_proposal would write it now.")
    blockers: list[str] = Field(description="Why it cannot be approved as it is, and what to do.")
    approved_by: str | None = None
    edited: bool = Field(default=False, description="The approver replaced the proposed content.")
    decided_at: str | None = None
    next_steps: str


class ApprovalResult(LazyModel):
    id: str
    status: ProposalStatus
    action: Action
    file: str = Field(description="Path relative to the standards folder, e.g. 'security/jwt-validation.md'.")
    path: str = Field(description="Absolute path of the written file.")
    target: Literal["project", "shared"] = Field(
        default="project", description="'project' (the project's standards) or 'shared' (the org's folder)."
    )
    version: int
    approved_by: str
    indexed: bool = Field(description="True when the file is already searchable through search_standards.")
    message: str


class DecisionResult(LazyModel):
    id: str
    status: ProposalStatus
    version: int
    feedback: str
    revision_job_id: str | None = Field(
        default=None, description="The persona job that revises the proposal (follow it with wait_for_persona_job)."
    )
    message: str
