"""Jobs and proposals as MCP resources (JSON): ``personas://jobs`` (recent jobs, filterable),
``personas://jobs/{job_id}``, ``personas://proposals/{proposal_id}`` and ``personas://index/status``.

The list is a template with optional query parameters (``personas://jobs?status=running&limit=20``):
reading ``personas://jobs`` as is works, and a template handler gets the server state through its
context, which a static resource cannot.
"""

from __future__ import annotations

import json

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from mcp_server.tools.context import AppContext, app_state
from standards.curation.models import UnknownProposalError
from worker.errors import JobRequestError, UnknownJobError
from worker.models import JobReport

JSON = "application/json"
MAX_JOBS_LISTED = 100  # as list_persona_jobs


def register_job_resources(server: MCPServer) -> None:
    @server.resource(
        "personas://index/status{?detail}",
        name="index-status",
        title="Standards index status",
        description="The standards index: state (building, ready, stale, error), files and chunks, full-text "
        "coverage, and the files it skipped with the reason (binary, too large, too many chunks, ...). "
        "personas://index/status?detail=skipped lists only the skipped files.",
        mime_type=JSON,
    )
    async def index_status(ctx: AppContext, detail: str = "full") -> str:
        status = app_state(ctx).standards.status()
        if detail == "skipped":
            return json.dumps([f.model_dump() for f in status.skipped], indent=2)
        if detail != "full":
            raise ResourceError(f"Unknown detail {detail!r}: use 'full' or 'skipped'.")
        return status.model_dump_json(indent=2)

    @server.resource(
        "personas://jobs{?status,persona,limit}",
        name="jobs",
        title="Recent persona jobs",
        description="The newest persona jobs (default 20), as list_persona_jobs returns them. Optional query: "
        "status, persona, limit (1-100), e.g. personas://jobs?status=running.",
        mime_type=JSON,
    )
    async def recent_jobs(
        ctx: AppContext, status: str | None = None, persona: str | None = None, limit: str = "20"
    ) -> str:
        if not limit.strip().removeprefix("-").isdigit():  # say so, not Python's int() message
            raise ResourceError(f"Bad jobs query: limit must be a whole number (1-{MAX_JOBS_LISTED}), got {limit!r}.")
        try:
            jobs = await app_state(ctx).jobs.list_jobs(status=status, persona=persona, limit=int(limit))
        except (JobRequestError, ValueError) as exc:
            raise ResourceError(f"Bad jobs query: {exc}") from exc
        return jobs.model_dump_json(indent=2)

    @server.resource(
        "personas://jobs/{job_id}",
        name="job",
        title="One persona job",
        description="One job as check_persona_job reports it (status, progress or result, findings, error).",
        mime_type=JSON,
    )
    async def one_job(job_id: str, ctx: AppContext) -> str:
        try:
            job = await app_state(ctx).jobs.get(job_id)
        except UnknownJobError as exc:
            raise ResourceError(str(exc)) from exc
        return JobReport.from_state(job).model_dump_json(indent=2)

    @server.resource(
        "personas://proposals/{proposal_id}",
        name="proposal",
        title="One proposed standard",
        description="A proposed standard as get_standard_proposal shows it (content, rationale, diff of an update, "
        "what blocks approval).",
        mime_type=JSON,
    )
    async def one_proposal(proposal_id: str, ctx: AppContext) -> str:
        try:
            proposal = await app_state(ctx).proposals.show(proposal_id)
        except UnknownProposalError as exc:
            raise ResourceError(str(exc)) from exc
        return proposal.model_dump_json(indent=2)
