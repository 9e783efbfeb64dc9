"""Approval by the human, not by the model: ask the user through MCP elicitation (``elicitation/create``).

approve_standard_proposal and reject_standard_proposal show the user the proposal (title, target
path, a short diff summary) and act on the user's pick: approve, request changes or reject, with
optional feedback. reset_persona_jobs asks the user to confirm the deletion. A decline or cancel
changes nothing. A client that cannot elicit keeps the tools' behaviour without a dialog, unless
PERSONAS_REQUIRE_ELICITATION is set, which refuses them.

The questions are ``Resolve`` dependencies of the tools: the SDK asks before the tool body runs,
over a mid-call ``elicitation/create`` (protocol ≤ 2025-11-25) or an input-required round trip
(2026-07-28), and hands the tool the user's answer.
"""

from __future__ import annotations

from typing import Literal

from mcp.server.mcpserver import (
    AcceptedElicitation,
    CancelledElicitation,
    DeclinedElicitation,
    Elicit,
    ElicitationResult,
)
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mcp_server.tools.context import AppContext, app_state
from standards.curation.models import ProposalDetail, UnknownProposalError
from standards.lazy_model import LazyModel

MAX_MESSAGE_CHARS = 1_500
Choice = Literal["approve", "request_changes", "reject"]


class ApproveForm(LazyModel):
    """The dialog of approve_standard_proposal: approval is preselected."""

    decision: Choice = Field(default="approve", description="Approve, request changes, or reject.")
    feedback: str | None = Field(default=None, description="Your reasons, or what to change.", max_length=5000)


class RejectForm(LazyModel):
    """The dialog of reject_standard_proposal: rejection is preselected."""

    decision: Choice = Field(default="reject", description="Approve, request changes, or reject.")
    feedback: str | None = Field(default=None, description="Your reasons, or what to change.", max_length=5000)


class ResetForm(LazyModel):
    """The dialog of reset_persona_jobs."""

    delete_all_jobs: bool = Field(default=False, description="Yes, delete every job record.")


class DismissForm(LazyModel):
    """The dialog of dismiss_finding."""

    dismiss: bool = Field(default=False, description="Yes, dismiss it: later runs drop this finding.")


HumanDecision = ElicitationResult[ApproveForm] | ElicitationResult[RejectForm]


class ProposalOutcome(LazyModel):
    """Reply of approve_standard_proposal and reject_standard_proposal: what was done, which may be the
    user's pick in the dialog rather than the tool's name."""

    id: str
    status: str = Field(description="'approved', 'changes_requested' or 'rejected'.")
    version: int
    message: str
    decided_in_dialog: Choice | None = Field(
        default=None, description="What the user picked in the approval dialog; null when no dialog was shown."
    )
    file: str | None = Field(default=None, description="Approved: the file, relative to the standards folder.")
    path: str | None = Field(default=None, description="Approved: absolute path of the written file.")
    action: str | None = Field(default=None, description="Approved: 'create' or 'update'.")
    target: str | None = Field(default=None, description="Approved: 'project' or 'shared'.")
    approved_by: str | None = None
    indexed: bool | None = Field(default=None, description="Approved: already searchable.")
    feedback: str | None = None
    revision_job_id: str | None = Field(default=None, description="Changes requested: the revision job.")


def can_ask(ctx: AppContext) -> bool:
    """Whether the client declared form elicitation; without it, refuse when the settings require it."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    if elicitation is not None and (elicitation.form is not None or elicitation.url is None):
        return True
    if app_state(ctx).settings.require_elicitation:
        raise ToolError(
            "This server asks the user to confirm this through the client (PERSONAS_REQUIRE_ELICITATION=true), "
            "and this client cannot show such a dialog (no elicitation capability). Nothing was changed: decide in "
            "a terminal with `personas standards approve|reject ID` or `personas jobs`, or use a client that "
            "supports elicitation."
        )
    return False


async def ask_to_approve(proposal_id: str, ctx: AppContext) -> Elicit[ApproveForm] | None:
    if not can_ask(ctx):
        return None
    proposal = await _proposal(ctx, proposal_id)
    return Elicit(proposal_message(proposal, "approve"), ApproveForm) if _open(proposal) else None


async def ask_to_reject(proposal_id: str, ctx: AppContext) -> Elicit[RejectForm] | None:
    if not can_ask(ctx):
        return None
    proposal = await _proposal(ctx, proposal_id)
    return Elicit(proposal_message(proposal, "reject"), RejectForm) if _open(proposal) else None


def _open(proposal: ProposalDetail) -> bool:
    """A decided proposal is not put to the user: the tool then says it is decided already."""
    return proposal.status in ("draft", "changes_requested")


async def ask_to_reset(confirm: bool, ctx: AppContext) -> Elicit[ResetForm] | None:
    if not confirm or not can_ask(ctx):
        return None  # confirm=false is refused by the tool itself, without a dialog
    stats = await app_state(ctx).jobs.stats()
    active = stats.jobs_by_status.get("running", 0) + stats.jobs_by_status.get("pending", 0)
    return Elicit(
        f"Delete all {stats.total_jobs} persona job records ({stats.database_size_mb:.1f} MB)? "
        f"{active} pending or running job(s) will be cancelled first. This cannot be undone.",
        ResetForm,
    )


async def ask_to_dismiss(job_id: str, finding_id: str, reason: str, ctx: AppContext) -> Elicit[DismissForm] | None:
    """A review's text can ask the assistant to dismiss its own findings: the user confirms, where the
    client can ask. An unknown job or finding is left to the tool's own error, without a dialog."""
    if not can_ask(ctx):
        return None
    from worker.errors import UnknownJobError

    try:
        job = await app_state(ctx).jobs.get(job_id)
    except (UnknownJobError, LookupError, ValueError):
        return None
    found = next(
        (f for f in job.findings or [] if finding_id == f.get("id") or finding_id in (f.get("related_ids") or [])),
        None,
    )
    if found is None:
        return None
    where = f" in {found['file']}" if found.get("file") else ""
    title = str(found.get("title"))[:200]
    return Elicit(
        f"Dismiss the {found.get('severity')} finding '{title}'{where} of the {job.persona} review as noise? Later "
        f"runs of its persona drop it and are told why. Reason given: {' '.join(reason.split())[:300]}",
        DismissForm,
    )


def confirmed_dismiss(decision: ElicitationResult[DismissForm]) -> bool | None:
    """True/False from the user's dialog; None when no dialog was shown."""
    if isinstance(decision, DeclinedElicitation | CancelledElicitation):
        return False
    assert isinstance(decision, AcceptedElicitation)
    form = decision.data
    return form.dismiss if isinstance(form, DismissForm) else None


async def _proposal(ctx: AppContext, proposal_id: str) -> ProposalDetail:
    try:
        return await app_state(ctx).proposals.show(proposal_id)
    except UnknownProposalError as exc:
        raise ToolError(str(exc)) from exc


def proposal_message(proposal: ProposalDetail, asked: str) -> str:
    """What the user sees: the proposal's title, target path, a short diff summary, why it is asked."""
    lines = [
        f"The assistant asks to {asked} a proposed standard: “{proposal.title}”",
        f"Target: {proposal.path} ({'updates the existing file' if proposal.action == 'update' else 'new file'})",
        f"Proposed by {proposal.proposed_by}, version {proposal.version}. {diff_summary(proposal)}",
    ]
    if proposal.blockers:
        lines.append("Cannot be approved as it is: " + "; ".join(proposal.blockers))
    lines.append(f"Rationale: {proposal.rationale}")
    text = "\n".join(lines)
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def diff_summary(proposal: ProposalDetail) -> str:
    if proposal.diff is None:
        return f"{len(proposal.content.splitlines())} lines."
    body = [line for line in proposal.diff.splitlines() if not line.startswith(("+++", "---"))]
    added = sum(line.startswith("+") for line in body)
    removed = sum(line.startswith("-") for line in body)
    return f"Diff: +{added} −{removed} lines."


def answer(decision: HumanDecision, *, what: str) -> ApproveForm | RejectForm | None:
    """The user's form (None: no dialog was shown); a decline or cancel stops the tool, changing nothing."""
    if isinstance(decision, DeclinedElicitation | CancelledElicitation):
        verb = "declined" if isinstance(decision, DeclinedElicitation) else "cancelled"
        raise ToolError(f"The user {verb} the dialog: nothing was changed ({what}).")
    assert isinstance(decision, AcceptedElicitation)
    form = decision.data
    return form if isinstance(form, ApproveForm | RejectForm) else None


def confirmed_reset(decision: ElicitationResult[ResetForm]) -> bool | None:
    """True/False from the user's dialog; None when no dialog was shown (the client cannot ask)."""
    if isinstance(decision, DeclinedElicitation | CancelledElicitation):
        return False
    assert isinstance(decision, AcceptedElicitation)
    form = decision.data
    return form.delete_all_jobs if isinstance(form, ResetForm) else None
