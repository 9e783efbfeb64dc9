"""Job tools: one invoke_<persona> per persona, and check_persona_job."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mcp_server.tools.context import app_state
from personas.model import PersonaDefinition
from worker.models import InvokeResult, JobReport
from worker.queue import QueueUnavailableError
from worker.service import JobRequestError, UnknownJobError

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
    Literal["low", "normal", "high"], Field(description="Queue priority; 'high' starts before waiting normal jobs.")
]
JobId = Annotated[str, Field(description="The job_id an invoke_* tool returned.")]


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


def _make_invoke(persona_id: str) -> Any:
    async def invoke(
        task: Task, ctx: Context, context: JobContext = None, priority: PriorityArg = "normal"
    ) -> InvokeResult:
        try:
            return await app_state(ctx).jobs.submit(persona_id, task, context, priority)
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
