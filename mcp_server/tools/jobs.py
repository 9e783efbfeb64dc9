"""Job tools: one invoke_<persona> per persona, check_persona_job, wait_for_persona_job, cancel_persona_job."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mcp_server.tools.context import app_state
from mcp_server.tools.review import Changes, CitedOnly, MinSeverity
from personas.model import PersonaDefinition
from worker.models import CancelResult, InvokeResult, JobReport, JobState
from worker.queue import QueueUnavailableError
from worker.service import MAX_WAIT_SECONDS, JobRequestError, UnknownJobError

Task = Annotated[
    str,
    Field(description="What the persona should do, e.g. 'review the auth flow in api/login.py for session fixation'."),
]
JobContext = Annotated[
    str | None,
    Field(
        description="Code, a diff, a description, or project file paths (one per line) for the persona to read. "
        "Prefer paths to pasting large files."
    ),
]
PriorityArg = Annotated[
    Literal["low", "normal", "high"],
    Field(description="Queue priority; 'high' starts before waiting normal jobs."),
]
FollowUpOf = Annotated[
    str | None,
    Field(
        description="job_id of an earlier finished run of this persona to continue its conversation, e.g. to say "
        "'yes, but also cover X' or 'revise the proposal'; the persona keeps what it already read and wrote."
    ),
]
JobId = Annotated[str, Field(description="The job_id an invoke_* tool returned.")]
WaitSeconds = Annotated[
    float,
    Field(
        ge=1,
        le=MAX_WAIT_SECONDS,
        description="Return after at most this many seconds even if the job is still running (1-50).",
    ),
]


def _invoke_description(persona: PersonaDefinition) -> str:
    return (
        f"Ask the {persona.name} persona for a review in the background. {persona.description}\n\n"
        "Returns a job_id immediately; then call check_persona_job(job_id) every few seconds until status is "
        "'complete' (the review, with findings citing the team's standards) or 'failed'."
    )


def register_job_tools(server: MCPServer, personas: list[PersonaDefinition]) -> None:
    for persona in personas:
        server.add_tool(
            _make_invoke(persona.id),
            name=persona.tool_name,
            title=f"Invoke {persona.name}",
            description=_invoke_description(persona),
        )
    server.add_tool(check_persona_job)
    server.add_tool(wait_for_persona_job)
    server.add_tool(cancel_persona_job)


def _make_invoke(persona_id: str) -> Any:
    async def invoke(  # noqa: PLR0917 - MCP tool arguments
        task: Task,
        ctx: Context,
        context: JobContext = None,
        priority: PriorityArg = "normal",
        follow_up_of: FollowUpOf = None,
        changes: Changes = None,
        min_severity: MinSeverity = None,
        cited_only: CitedOnly = False,
    ) -> InvokeResult:
        try:
            return await app_state(ctx).jobs.submit(
                persona_id,
                task,
                context,
                priority,
                follow_up_of,
                changes=changes,
                min_severity=min_severity,
                cited_only=cited_only,
            )
        except (JobRequestError, QueueUnavailableError) as exc:
            raise ToolError(str(exc)) from exc

    return invoke


async def check_persona_job(job_id: JobId, ctx: Context) -> JobReport:
    """Check a persona job started by an invoke_* tool.

    Call it every 3-5 seconds until status is 'complete', 'failed' or 'cancelled'. While pending or
    running, show the user progress.phase, progress.percent_complete and progress.message. When
    complete, `result` holds the Markdown review and `findings` the structured findings (severity,
    title, detail, location, standard_refs, recommendation).
    """
    try:
        return await app_state(ctx).jobs.check(job_id)
    except UnknownJobError as exc:
        raise ToolError(str(exc)) from exc


async def wait_for_persona_job(job_id: JobId, ctx: Context, timeout_seconds: WaitSeconds = 30) -> JobReport:
    """Wait for a persona job instead of polling: returns as soon as the job is complete, failed or
    cancelled, or after timeout_seconds with its progress (same fields as check_persona_job).

    While it waits it sends progress notifications (percent and message) if your client asked for
    them. If the status is still 'pending' or 'running', call it again.
    """

    async def progress(job: JobState) -> None:
        await ctx.report_progress(job.progress_percent, 100, job.progress_message or job.status.value)

    try:
        return await app_state(ctx).jobs.wait(job_id, timeout_seconds, progress)
    except UnknownJobError as exc:
        raise ToolError(str(exc)) from exc


async def cancel_persona_job(job_id: JobId, ctx: Context) -> CancelResult:
    """Cancel a pending or running persona job.

    A pending job never starts. A running job stops within about a second; what the persona had
    produced so far is kept as partial_result, and the job's status becomes 'cancelled'. A job that
    already finished is left unchanged (cancelled=false, the message says so).
    """
    try:
        return await app_state(ctx).jobs.cancel(job_id)
    except UnknownJobError as exc:
        raise ToolError(str(exc)) from exc
