"""Change-review arguments shared by the invoke tools; invoke_panel and dismiss_finding (issue 13)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import ElicitationResult, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from mcp_server.tools.annotations import starts_job
from mcp_server.tools.approval import DismissForm, ask_to_dismiss, confirmed_dismiss
from mcp_server.tools.context import AppContext, app_state
from worker.client_code import ClientCode
from worker.dismissals import DismissResult, dismiss
from worker.errors import JobRequestError, QueueUnavailableError, UnknownJobError
from worker.models import InvokeResult

Changes = Annotated[
    str | None,
    Field(
        description="Review only a change: 'working', 'staged' or a git range.",
        max_length=200,
    ),
]
Files = Annotated[
    dict[str, str] | None,
    Field(
        description="Only for a server started with --remote-clients: project-relative path → file text, read "
        "instead of the server's disk."
    ),
]
Diff = Annotated[
    str | None,
    Field(description="Only with --remote-clients: your change as `git diff` text (instead of changes)."),
]
MinSeverity = Literal["critical", "high", "medium", "low", "info"] | None
"""The lowest severity to report (the name says it: no description in tools/list)."""
CitedOnly = Annotated[bool, Field(description="Only findings citing a standard.")]


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
    server.add_tool(invoke_panel, annotations=starts_job("Invoke a panel of personas"))
    server.add_tool(dismiss_finding, annotations=DISMISS_ANNOTATIONS)


async def invoke_panel(  # noqa: PLR0917 - MCP tool arguments
    personas: PanelPersonas,
    task: PanelTask,
    ctx: AppContext,
    context: PanelContext = None,
    changes: Changes = None,
    priority: PanelPriority = "normal",
    min_severity: MinSeverity = None,
    cited_only: CitedOnly = False,
    files: Files = None,
    diff: Diff = None,
) -> InvokeResult:
    """Run several personas on the same task at once, as one background job, and get one merged report.

    Each persona reviews concurrently (wait_for_persona_job shows each one's progress under `panel`).
    When all are done, the same issue raised by several personas becomes one finding listing them all,
    ordered by severity, with a summary per persona. A persona that fails is reported while the others
    are still merged. cancel_persona_job cancels every persona of the panel. Typical use: a pre-merge
    review with changes='origin/main...HEAD' and personas ['security', 'qa', 'engineer'].
    """
    state = app_state(ctx)
    try:
        started = await state.jobs.submit_panel(
            personas,
            task,
            context,
            priority,
            changes=changes,
            min_severity=min_severity,
            cited_only=cited_only,
            code=ClientCode(files=files, diff=diff),
        )
    except (JobRequestError, QueueUnavailableError) as exc:
        raise ToolError(str(exc)) from exc
    state.job_events.follow(ctx.session, started.job_id)
    return started


FindingId = Annotated[str, Field(min_length=1, max_length=100)]
Reason = Annotated[str, Field(description="Why it does not apply; later runs are told.", min_length=1, max_length=2000)]
DismissedBy = Annotated[str | None, Field(description="Who (default: assistant).", max_length=200)]
DISMISS_ANNOTATIONS = ToolAnnotations(
    title="Dismiss a finding",
    read_only_hint=False,
    destructive_hint=False,
    idempotent_hint=True,
    open_world_hint=False,
)
"""Records a dismissal (a repeat updates it); nothing is deleted, and it is undone with personas findings restore."""


async def dismiss_finding(
    job_id: str,
    finding_id: FindingId,
    reason: Reason,
    ctx: AppContext,
    dismissed_by: DismissedBy = None,
    *,
    decision: Annotated[ElicitationResult[DismissForm], Resolve(ask_to_dismiss)],
) -> DismissResult:
    """Only when the user says so: dismiss a finding as noise; later runs of its persona(s) drop it
    (even after line shifts) and are told why. Undo: `personas findings restore <id>`."""
    state = app_state(ctx)
    if state.dismissals is None:
        raise ToolError("Dismissals are unavailable in this server.")
    if confirmed_dismiss(decision) is False:
        raise ToolError("The user did not confirm the dismissal in the dialog: nothing was dismissed.")
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
