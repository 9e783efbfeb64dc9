"""``completion/complete``: argument suggestions for the persona prompts and the resource templates.

Prompt ``request`` → the persona's starter prompts; ``personas://standards/{source}/{domain}/{topic}``
→ sources, the domains of that source, the topics of that domain; ``personas://jobs/{job_id}`` →
recent job ids by prefix; ``personas://jobs{?status,persona,limit}`` → statuses and persona ids;
``personas://proposals/{proposal_id}`` → proposal ids. At most MAX_VALUES values, as the spec allows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import CompleteRequestParams, CompleteResult, Completion, PromptReference

from mcp_server.sdk_compat import lowlevel
from mcp_server.state import AppState

MAX_VALUES = 100
"""The spec's cap on the values of one completion."""
SOURCES = ("all", "project", "shared", "universal", "rules")
JOB_STATUSES = ("pending", "running", "complete", "failed", "cancelled")


def register_completions(server: MCPServer[Any]) -> None:
    lowlevel(server).add_request_handler("completion/complete", CompleteRequestParams, complete)


async def complete(ctx: ServerRequestContext[Any, Any], params: CompleteRequestParams) -> CompleteResult:
    state = ctx.lifespan_context
    values: list[str] = []
    if isinstance(state, AppState):  # a server whose stores could not open suggests nothing
        known = dict((params.context.arguments or {}) if params.context else {})
        if isinstance(params.ref, PromptReference):
            values = await _prompt_values(state, params.ref.name, params.argument.name)
        else:
            values = await _template_values(state, params.ref.uri, params.argument.name, known)
    return CompleteResult(completion=_matching(values, params.argument.value))


def _matching(candidates: Iterable[str], typed: str) -> Completion:
    prefix = typed.casefold()
    found = list(dict.fromkeys(c for c in candidates if c.casefold().startswith(prefix)))
    return Completion(values=found[:MAX_VALUES], total=len(found), has_more=len(found) > MAX_VALUES)


async def _prompt_values(state: AppState, prompt: str, argument: str) -> list[str]:
    if argument != "request" or prompt not in state.personas.ids():
        return []
    return list(state.personas.get(prompt).starter_prompts)


async def _template_values(state: AppState, uri: str, argument: str, known: dict[str, str]) -> list[str]:
    if uri.startswith("personas://standards/"):
        return await _standards_values(state, argument, known)
    if uri.startswith("personas://jobs"):
        if argument == "job_id":
            return [job.job_id for job in (await state.jobs.list_jobs(status=None, persona=None, limit=100)).jobs]
        if argument == "status":
            return list(JOB_STATUSES)
        if argument == "persona":
            return state.personas.ids()
        return []
    if uri.startswith("personas://proposals/") and argument == "proposal_id":
        return [p.id for p in (await state.proposals.list_proposals("all", None, 200)).proposals]
    return []


async def _standards_values(state: AppState, argument: str, known: dict[str, str]) -> list[str]:
    if argument == "source":
        return list(SOURCES)
    source = known.get("source", "all")
    files = [f for f in await state.standards.list_files() if source in ("all", f.source)]
    if argument == "domain":
        return sorted({f.domain for f in files})
    if argument == "topic":
        domain = known.get("domain")
        return sorted(
            f.file.split("/", 1)[1].removesuffix(".md")
            for f in files
            if "/" in f.file and (domain is None or f.domain == domain)
        )
    return []
