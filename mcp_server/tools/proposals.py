"""Standards-approval tools: list, get, approve, reject, request changes on proposed standards."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import ElicitationResult, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mcp_server.tools.annotations import destroys, reads, starts_job
from mcp_server.tools.approval import (
    ApproveForm,
    ProposalOutcome,
    RejectForm,
    answer,
    ask_to_approve,
    ask_to_reject,
)
from mcp_server.tools.context import AppContext, app_state
from standards.curation.models import (
    ApprovalResult,
    DecisionResult,
    ProposalDetail,
    ProposalError,
    ProposalList,
    StatusFilter,
    UnknownProposalError,
)
from worker.errors import JobRequestError, QueueUnavailableError

ProposalId = Annotated[str, Field(description="The proposal id, from list_standard_proposals or a persona's review.")]
Status = Annotated[
    StatusFilter,
    Field(
        description="'open' (default) = drafts and those waiting for a revision; or one status: 'draft', "
        "'changes_requested', 'approved', 'rejected'; or 'all'."
    ),
]
DomainFilter = Annotated[str | None, Field(description="Only this domain, e.g. 'security'.")]
Limit = Annotated[int, Field(ge=1, le=200, description="How many of the most recently changed to return.")]
ApprovedBy = Annotated[
    str | None,
    Field(description="Who approved it (the user's name), recorded in the file's front matter as approved_by."),
]
Edits = Annotated[
    str | None,
    Field(
        description="Replacement Markdown for the standard, when the user approved it with their own edits. "
        "Omit to write the proposal as it is."
    ),
]
Feedback = Annotated[
    str,
    Field(min_length=1, max_length=5000, description="The user's feedback, in their words."),
]
ApprovalTarget = Annotated[
    Literal["project", "shared"],
    Field(
        description="Where the standard is written: 'project' (default, the project's standards) or 'shared' "
        "(the organisation's shared folder; only when the server allows it)."
    ),
]
RevisionPriority = Annotated[Literal["low", "normal", "high"], Field(description="Queue priority of the revision run.")]


def register_proposal_tools(server: MCPServer) -> None:
    server.add_tool(list_standard_proposals, annotations=reads("List proposed standards"))
    server.add_tool(get_standard_proposal, annotations=reads("Read a proposed standard"))
    server.add_tool(
        approve_standard_proposal,
        annotations=destroys("Approve a proposed standard", idempotent=False),
    )
    server.add_tool(
        reject_standard_proposal,
        annotations=destroys("Reject a proposed standard", idempotent=False),
    )
    server.add_tool(
        request_standard_changes,
        annotations=starts_job("Request changes to a proposed standard"),
    )


async def list_standard_proposals(
    ctx: AppContext, status: Status = "open", domain: DomainFilter = None, limit: Limit = 50
) -> ProposalList:
    """List standards that personas proposed during reviews and that wait for a human decision.

    Each has an id, domain/topic, title, status, version, the proposing persona and whether it
    creates a new standard or updates an existing one. Call get_standard_proposal(id) to read one
    before the user decides.
    """
    return await app_state(ctx).proposals.list_proposals(status, domain, limit)


async def get_standard_proposal(proposal_id: ProposalId, ctx: AppContext) -> ProposalDetail:
    """Read one proposed standard in full: its Markdown content, the rationale, and for an update of
    an existing standard a unified diff against the current file.

    Show the user the content (or the diff) and ask them to decide: approve, request changes with
    feedback, or reject. `approvable` is false with `blockers` saying why when it cannot be written
    as it is (e.g. the file changed since the proposal was made).
    """
    try:
        return await app_state(ctx).proposals.show(proposal_id)
    except UnknownProposalError as exc:
        raise ToolError(str(exc)) from exc


async def approve_standard_proposal(
    proposal_id: ProposalId,
    ctx: AppContext,
    approved_by: ApprovedBy = None,
    edits: Edits = None,
    target: ApprovalTarget = "project",
    *,
    decision: Annotated[ElicitationResult[ApproveForm], Resolve(ask_to_approve)],
) -> ProposalOutcome:
    """Approve a proposed standard: writes <standards>/<domain>/<topic>.md with front matter and makes
    it searchable at once.

    Call it ONLY after the user explicitly approved this proposal (after seeing it through
    get_standard_proposal); never approve on your own judgement. Where the client supports it, the
    user confirms in a dialog and may pick request changes or reject instead (`decided_in_dialog`).
    Pass the user's edited text as `edits` if they changed it. It refuses, without writing, to
    overwrite a file that changed since the proposal was made, content that looks like it holds
    secrets, or a proposal already decided.
    """
    form = answer(decision, what=f"proposal {proposal_id}")
    if form is None or form.decision == "approve":
        try:
            approved = await app_state(ctx).proposals.approve(
                proposal_id, approved_by=approved_by, edits=edits, target=target
            )
        except (UnknownProposalError, ProposalError, ValueError) as exc:
            raise ToolError(str(exc)) from exc
        return _outcome(approved, form)
    return await _carry_out(ctx, proposal_id, form, feedback=None)


async def reject_standard_proposal(
    proposal_id: ProposalId,
    feedback: Feedback,
    ctx: AppContext,
    *,
    decision: Annotated[ElicitationResult[RejectForm], Resolve(ask_to_reject)],
) -> ProposalOutcome:
    """Reject a proposed standard for good (nothing is written), recording the user's reason.

    Only on the user's decision; where the client supports it, the user confirms in a dialog (and
    may pick another outcome). To have the persona improve it instead, use request_standard_changes.
    """
    form = answer(decision, what=f"proposal {proposal_id}")
    if form is None:
        try:
            return _outcome(await app_state(ctx).proposals.reject(proposal_id, feedback), None)
        except (UnknownProposalError, ProposalError, ValueError) as exc:
            raise ToolError(str(exc)) from exc
    return await _carry_out(ctx, proposal_id, form, feedback=feedback)


async def _carry_out(
    ctx: AppContext, proposal_id: str, form: ApproveForm | RejectForm, *, feedback: str | None
) -> ProposalOutcome:
    """Carry out what the user picked in the dialog, with their feedback (else the tool's)."""
    proposals = app_state(ctx).proposals
    text = (form.feedback or "").strip() or feedback
    try:
        if form.decision == "approve":
            return _outcome(await proposals.approve(proposal_id), form)
        if not text:
            raise ToolError(
                f"The user chose '{form.decision}' without feedback: nothing was changed. Ask them why (or what to "
                "change) and call the matching tool with their feedback."
            )
        if form.decision == "reject":
            return _outcome(await proposals.reject(proposal_id, text), form)
        return _outcome(await proposals.request_changes(proposal_id, text, "normal"), form)
    except (UnknownProposalError, ProposalError, JobRequestError, QueueUnavailableError, ValueError) as exc:
        raise ToolError(str(exc)) from exc


def _outcome(result: ApprovalResult | DecisionResult, form: ApproveForm | RejectForm | None) -> ProposalOutcome:
    return ProposalOutcome.model_validate(
        {**result.model_dump(), "decided_in_dialog": form.decision if form is not None else None}
    )


async def request_standard_changes(
    proposal_id: ProposalId, feedback: Feedback, ctx: AppContext, priority: RevisionPriority = "normal"
) -> DecisionResult:
    """Send a proposed standard back to the persona that proposed it, with the user's feedback.

    Queues a persona job that revises the draft; its result becomes the next version of the same
    proposal (same id). Returns revision_job_id: wait_for_persona_job with it, then show the user
    the new version with get_standard_proposal.
    """
    try:
        return await app_state(ctx).proposals.request_changes(proposal_id, feedback, priority)
    except (UnknownProposalError, ProposalError, JobRequestError, QueueUnavailableError, ValueError) as exc:
        raise ToolError(str(exc)) from exc
