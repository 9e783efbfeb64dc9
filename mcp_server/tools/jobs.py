"""Job tools: one invoke_<persona> per persona (or one invoke_persona), check_persona_job,
wait_for_persona_job, cancel_persona_job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mcp_server.tools.annotations import destroys, reads, starts_job
from mcp_server.tools.context import AppContext, app_state
from mcp_server.tools.review import Changes, CitedOnly, Diff, Files, MinSeverity
from personas.model import PersonaDefinition
from worker.client_code import ClientCode
from worker.errors import MAX_WAIT_SECONDS, JobRequestError, QueueUnavailableError, UnknownJobError
from worker.models import CancelResult, InvokeResult, JobReport, JobState, Priority

Task = Annotated[str, Field(description="What to review or answer.")]
JobContext = Annotated[str | None, Field(description="Code, a diff or file paths (one per line).")]
PriorityArg = Literal["low", "normal", "high"]
FollowUpOf = Annotated[str | None, Field(description="A finished job_id to continue.")]
JobId = Annotated[str, Field(description="From an invoke tool.")]
WaitSeconds = Annotated[
    float,
    Field(ge=0, le=MAX_WAIT_SECONDS, description="Most seconds to wait (0 = check)."),
]
NEXT_STEP = "Returns a job_id for wait_for_persona_job."


def _invoke_description(persona: PersonaDefinition) -> str:
    return persona.description  # the flow (job_id → wait_for_persona_job) is in the server instructions


def _summary(persona: PersonaDefinition) -> str:
    """The first sentence of a persona's description: one line of the invoke_persona description."""
    first = persona.description.split(". ", maxsplit=1)[0].rstrip(".")
    return f"- {persona.id}: {first}."


def register_job_tools(server: MCPServer, personas: list[PersonaDefinition], *, single: bool = False) -> None:
    """One invoke_<persona> tool per persona, or (``single``) one invoke_persona with a persona enum."""
    if single:
        server.add_tool(
            _make_invoke_persona([p.id for p in personas]),
            name="invoke_persona",
            description="Ask a specialist persona for a review. "
            + NEXT_STEP
            + "\nPersonas:\n"
            + "\n".join(_summary(p) for p in personas),
            annotations=starts_job("Invoke a persona"),
        )
    else:
        for persona in personas:
            server.add_tool(
                _make_invoke(persona.id),
                name=persona.tool_name,
                description=_invoke_description(persona),
                annotations=starts_job(f"Invoke {persona.name}"),
            )
    server.add_tool(check_persona_job, annotations=reads("Check a persona job"))
    server.add_tool(wait_for_persona_job, annotations=reads("Wait for a persona job"))
    server.add_tool(
        cancel_persona_job,
        annotations=destroys("Cancel a persona job", idempotent=True),
    )


def _make_invoke(persona_id: str) -> Any:
    async def invoke(  # noqa: PLR0917 - MCP tool arguments
        task: Task,
        ctx: AppContext,
        context: JobContext = None,
        priority: PriorityArg = "normal",
        follow_up_of: FollowUpOf = None,
        changes: Changes = None,
        min_severity: MinSeverity = None,
        cited_only: CitedOnly = False,
        files: Files = None,
        diff: Diff = None,
    ) -> InvokeResult:
        return await _submit(
            ctx,
            persona_id,
            task,
            context=context,
            priority=priority,
            follow_up_of=follow_up_of,
            review=ReviewOptions(changes=changes, min_severity=min_severity, cited_only=cited_only),
            code=ClientCode(files=files, diff=diff),
        )

    return invoke


def _make_invoke_persona(persona_ids: list[str]) -> Any:
    async def invoke_persona(
        persona: str,
        task: Task,
        ctx: AppContext,
        *,
        context: JobContext = None,
        priority: PriorityArg = "normal",
        follow_up_of: FollowUpOf = None,
        changes: Changes = None,
        min_severity: MinSeverity = None,
        cited_only: CitedOnly = False,
        files: Files = None,
        diff: Diff = None,
    ) -> InvokeResult:
        return await _submit(
            ctx,
            persona,
            task,
            context=context,
            priority=priority,
            follow_up_of=follow_up_of,
            review=ReviewOptions(changes=changes, min_severity=min_severity, cited_only=cited_only),
            code=ClientCode(files=files, diff=diff),
        )

    # The enum of loaded ids is known only now: give the parameter its real annotation (the
    # SDK reads it with get_type_hints, which takes objects as well as the strings of PEP 563).
    # The schema lists the ids; any other value reaches the job service, whose error names the
    # persona and the known ones (a literal type would answer with pydantic's validation text).
    persona_arg = Field(description="Which persona.", max_length=100, json_schema_extra={"enum": list(persona_ids)})
    invoke_persona.__annotations__["persona"] = Annotated[str, persona_arg]
    return invoke_persona


@dataclass(frozen=True)
class ReviewOptions:
    """What to review and what to report (issue 13's change review), as the invoke tools take them."""

    changes: str | None = None
    min_severity: str | None = None
    cited_only: bool = False


async def _submit(
    ctx: AppContext,
    persona_id: str,
    task: str,
    *,
    context: str | None,
    priority: Priority,
    follow_up_of: str | None,
    review: ReviewOptions,
    code: ClientCode,
) -> InvokeResult:
    state = app_state(ctx)
    try:
        started = await state.jobs.submit(
            persona_id,
            task,
            context,
            priority,
            follow_up_of,
            changes=review.changes,
            min_severity=review.min_severity,
            cited_only=review.cited_only,
            code=code,
        )
    except (JobRequestError, QueueUnavailableError) as exc:
        raise ToolError(str(exc)) from exc
    state.job_events.follow(ctx.session, started.job_id)
    return started


async def check_persona_job(job_id: JobId, ctx: AppContext) -> JobReport:
    """Check a persona job: its status; while pending or running its progress (show the user phase,
    percent and message); when complete the Markdown `result` and structured `findings`; when failed
    or cancelled the `error`. Poll every 3-5 s, or use wait_for_persona_job instead."""
    try:
        return await app_state(ctx).jobs.check(job_id)
    except UnknownJobError as exc:
        raise ToolError(str(exc)) from exc


async def wait_for_persona_job(job_id: JobId, ctx: AppContext, timeout_seconds: WaitSeconds = 30) -> JobReport:
    """Wait for a persona job to finish, or for timeout_seconds (0 = just check). While it runs, show
    the user its progress and call again; when complete, present `result` and `findings`; when
    failed, `error`."""

    async def progress(job: JobState) -> None:
        await ctx.report_progress(job.progress_percent, 100, job.progress_message or job.status.value)

    try:
        return await app_state(ctx).jobs.wait(job_id, timeout_seconds, progress)
    except UnknownJobError as exc:
        raise ToolError(str(exc)) from exc


async def cancel_persona_job(job_id: JobId, ctx: AppContext) -> CancelResult:
    """Cancel a pending or running persona job.

    A pending job never starts. A running job stops within about a second; what the persona had
    produced so far is kept as partial_result, and the job's status becomes 'cancelled'. A job that
    already finished is left unchanged (cancelled=false, the message says so).
    """
    try:
        return await app_state(ctx).jobs.cancel(job_id)
    except UnknownJobError as exc:
        raise ToolError(str(exc)) from exc
