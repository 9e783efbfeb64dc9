"""Change-review arguments shared by the invoke tools; invoke_panel and dismiss_finding (issue 13)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mcp_server.tools.context import app_state
from worker.dismissals import DismissResult, dismiss
from worker.models import InvokeResult
from worker.queue import QueueUnavailableError
from worker.service import JobRequestError, UnknownJobError

Changes = Annotated[
    str | None,
    Field(
        description="Review a change instead of the whole project: 'working' (uncommitted: staged, unstaged and "
        "untracked), 'staged' (what the next commit would contain), or a git range such as 'origin/main...HEAD' "
        "(a branch since it left main) or 'HEAD~3' (the last three commits). The persona sees the diff and reads "
        "the files as of the change's head.",
        max_length=200,
    ),
]
MinSeverity = Annotated[
    Literal["critical", "high", "medium", "low", "info"] | None,
    Field(description="Report only findings at or above this severity (the job keeps the rest)."),
]
CitedOnly = Annotated[
    bool, Field(description="Report only findings that cite a team standard (the job keeps the rest).")
]


PanelPersonas = Annotated[
    list[str],
    Field(
        min_length=2,
        max_length=6,
        description="Persona ids to run together, e.g. ['security', 'qa', 'sre'] (list_personas shows them).",
    ),
]
PanelTask = Annotated[str, Field(description="What the panel should review, e.g. 'review this branch before merge'.")]
PanelContext = Annotated[
    str | None, Field(description="A description, or project file paths (one per line) for the personas to read.")
]
PanelPriority = Annotated[Literal["low", "normal", "high"], Field(description="Queue priority.")]


def register_review_tools(server: MCPServer[Any]) -> None:
    server.add_tool(invoke_panel)
    server.add_tool(dismiss_finding)


async def invoke_panel(  # noqa: PLR0917 - MCP tool arguments
    personas: PanelPersonas,
    task: PanelTask,
    ctx: Context,
    context: PanelContext = None,
    changes: Changes = None,
    priority: PanelPriority = "normal",
    min_severity: MinSeverity = None,
    cited_only: CitedOnly = False,
) -> InvokeResult:
    """Run several personas on the same task at once, as one background job, and get one merged report.

    Each persona reviews concurrently (check_persona_job shows each one's progress under `panel`).
    When all are done, the same issue raised by several personas becomes one finding listing them all,
    ordered by severity, with a summary per persona. A persona that fails is reported while the others
    are still merged. cancel_persona_job cancels every persona of the panel. Typical use: a pre-merge
    review with changes='origin/main...HEAD' and personas ['security', 'qa', 'engineer'].
    """
    try:
        return await app_state(ctx).jobs.submit_panel(
            personas,
            task,
            context,
            priority,
            changes=changes,
            min_severity=min_severity,
            cited_only=cited_only,
        )
    except (JobRequestError, QueueUnavailableError) as exc:
        raise ToolError(str(exc)) from exc


FindingId = Annotated[
    str, Field(description="The finding's `id` from the job's findings.", min_length=1, max_length=100)
]
Reason = Annotated[
    str,
    Field(
        description="Why the finding does not apply (the persona is shown it on later runs), e.g. "
        "'input is validated by the gateway'.",
        min_length=1,
        max_length=2000,
    ),
]
DismissedBy = Annotated[str | None, Field(description="Who dismisses it (default: 'assistant').", max_length=200)]


async def dismiss_finding(
    job_id: Annotated[str, Field(description="The job the finding came from.")],
    finding_id: FindingId,
    reason: Reason,
    ctx: Context,
    dismissed_by: DismissedBy = None,
) -> DismissResult:
    """Dismiss a finding as a false positive or accepted risk, **only when the user says so**.

    Records who, why and when. Later runs of the persona on the same code drop the finding (its id
    is a fingerprint of the persona, title, file and the code it points at, so it survives line
    shifts) and are told the team dismissed that pattern. A panel finding is dismissed for every
    persona that raised it. Undo from a shell: `personas findings restore <id>`.
    """
    state = app_state(ctx)
    if state.dismissals is None:
        raise ToolError("Dismissals are unavailable in this server.")
    try:
        job = await state.jobs.get(job_id)
        return await dismiss(
            state.dismissals,
            job.id,
            job.findings,
            finding_id=finding_id,
            reason=reason,
            by=dismissed_by or "assistant",
        )
    except (UnknownJobError, LookupError, ValueError) as exc:
        raise ToolError(str(exc)) from exc
