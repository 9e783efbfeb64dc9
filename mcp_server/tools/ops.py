"""Ops tools: list_persona_jobs, persona_database_stats, reset_persona_jobs."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import ElicitationResult, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field, StrictBool

from mcp_server.tools.annotations import destroys, reads
from mcp_server.tools.approval import ResetForm, ask_to_reset, confirmed_reset
from mcp_server.tools.context import AppContext, app_state
from worker.errors import JobRequestError
from worker.models import DatabaseStats, JobList, ResetResult

StatusFilter = Annotated[
    Literal["pending", "running", "complete", "failed", "cancelled"] | None,
    Field(description="Only jobs in this state."),
]
PersonaFilter = Annotated[str | None, Field(description="Only jobs of this persona id, e.g. 'security'.")]
Limit = Annotated[int, Field(ge=1, le=100, description="How many of the newest matching jobs to return.")]
# Strict: only the JSON boolean true deletes; "true", 1 or "yes" are refused, not coerced.
Confirm = Annotated[StrictBool, Field(description="Must be the JSON boolean true: this deletes every job record.")]


def register_ops_tools(server: MCPServer) -> None:
    server.add_tool(list_persona_jobs, annotations=reads("List persona jobs"))
    server.add_tool(persona_database_stats, annotations=reads("Job database stats"))
    server.add_tool(
        reset_persona_jobs,
        annotations=destroys("Reset all persona jobs", idempotent=True),
    )


async def list_persona_jobs(
    ctx: AppContext, status: StatusFilter = None, persona: PersonaFilter = None, limit: Limit = 10
) -> JobList:
    """List recent persona jobs, newest first: job_id, persona, status, task (truncated), created_at
    and duration. total_count counts every job; filtered_count those matching the filters. Pass a
    job_id to check_persona_job for the full record."""
    try:
        return await app_state(ctx).jobs.list_jobs(status=status, persona=persona, limit=limit)
    except JobRequestError as exc:
        raise ToolError(str(exc)) from exc


async def persona_database_stats(ctx: AppContext) -> DatabaseStats:
    """Health of the job database: size, jobs by status, age of the oldest job, when the hourly
    cleanup last ran and runs next, a recommendation ('healthy' or what to do), and usage per persona
    (jobs, success rate, p50/p95 duration, tokens in/out, jobs per day over the last 7 days)."""
    return await app_state(ctx).jobs.stats()


async def reset_persona_jobs(
    ctx: AppContext,
    confirm: Confirm = False,
    *,
    decision: Annotated[ElicitationResult[ResetForm], Resolve(ask_to_reset)],
) -> ResetResult:
    """DANGER: delete all persona job history. Use it only when the user asks for it, e.g. when
    automatic cleanup is not enough or the database is damaged.

    Pending and running jobs are cancelled first (taken off the queue, or stopped on their worker
    within about a second), then every job record is deleted and the space is reclaimed. Refuses
    unless confirm=true; where the client supports it, the user confirms in a dialog as well.
    """
    if not confirm:
        raise ToolError(
            "reset_persona_jobs deletes every job record (and cancels running jobs). Nothing was deleted: "
            "call it again with confirm=true if the user really wants that."
        )
    if confirmed_reset(decision) is False:
        raise ToolError("The user did not confirm the reset in the dialog: nothing was deleted.")
    return await app_state(ctx).jobs.reset()
