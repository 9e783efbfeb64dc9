"""Change-review arguments shared by the invoke tools; invoke_panel and dismiss_finding (issue 13)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mcp_server.tools.annotations import starts_job
from mcp_server.tools.context import AppContext, app_state
from worker.models import InvokeResult
from worker.queue import QueueUnavailableError
from worker.service import JobRequestError

Changes = Annotated[
    str | None,
    Field(
        description="Review a change, not the whole project: 'working' (uncommitted), 'staged', or a git range "
        "such as 'origin/main...HEAD'.",
        max_length=200,
    ),
]
MinSeverity = Annotated[
    Literal["critical", "high", "medium", "low", "info"] | None,
    Field(description="Report only findings at or above this severity."),
]
CitedOnly = Annotated[bool, Field(description="Report only findings citing a team standard.")]


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


async def invoke_panel(  # noqa: PLR0917 - MCP tool arguments
    personas: PanelPersonas,
    task: PanelTask,
    ctx: AppContext,
    context: PanelContext = None,
    changes: Changes = None,
    priority: PanelPriority = "normal",
    min_severity: MinSeverity = None,
    cited_only: CitedOnly = False,
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
        )
    except (JobRequestError, QueueUnavailableError) as exc:
        raise ToolError(str(exc)) from exc
    state.job_events.follow(ctx.session, started.job_id)
    return started
