"""build_server(settings): the MCP server factory. No work at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from mcp.server.mcpserver import MCPServer

from mcp_server.app import AppState, Unavailable, open_app
from mcp_server.completions import register_completions
from mcp_server.data_dir import DataDirError
from mcp_server.desk.state import StateRef
from mcp_server.embedded import EmbeddedRedisError
from mcp_server.instructions import server_instructions
from mcp_server.resources import register_job_resources
from mcp_server.roots import register_roots, roots_policy
from mcp_server.sdk_compat import registered_tool_arguments, registered_tool_names
from mcp_server.session_log import register_logging
from mcp_server.settings import Settings
from mcp_server.tools.client_code import CLIENT_CODE_PARAMS, hide_client_code
from mcp_server.tools.guard import guard_tool_calls
from mcp_server.tools.jobs import register_job_tools
from mcp_server.tools.ops import register_ops_tools
from mcp_server.tools.personas import register_persona_tools
from mcp_server.tools.profiles import not_offered
from mcp_server.tools.proposals import register_proposal_tools
from mcp_server.tools.review import register_review_tools
from mcp_server.tools.standards import register_standards
from mcp_server.tools.trim import trim_tools_list
from personas.registry import PersonaRegistry
from standards.db import StoreError
from standards.sqlite import DatabaseUnusableError

log = logging.getLogger(__name__)


def package_version() -> str:
    try:
        return version("agent-personas")
    except PackageNotFoundError:
        return "0.0.0"


def build_server(
    settings: Settings,
    *,
    run_worker: bool = True,
    watch: bool = True,
    on_closed: Callable[[], None] | None = None,
    state_ref: StateRef | None = None,
    http_host: str | None = None,
) -> MCPServer[AppState | Unavailable]:
    """Build the MCP server. Resources open when a transport starts it and close when it stops;
    ``on_closed`` is called once they are all closed; ``state_ref`` holds the open state (for the desk);
    ``http_host`` is the address an HTTP transport binds (None: stdio or in-process), which decides
    whether clients' MCP roots may move the project root."""
    personas = PersonaRegistry.load(settings.personas_dir, claude_root=settings.claude_agents_root)
    roots = roots_policy(http_host=http_host, remote_clients=settings.remote_clients)

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState | Unavailable]) -> AsyncIterator[AppState | Unavailable]:
        stack = AsyncExitStack()
        try:
            state: AppState | Unavailable
            try:
                state = await stack.enter_async_context(
                    open_app(settings, personas, run_worker=run_worker, watch=watch, roots=roots)
                )
            except (DatabaseUnusableError, StoreError, DataDirError, EmbeddedRedisError) as exc:
                # Stay up: the client sees the reason on every tool call rather than EOF.
                log.error("agent-personas cannot start its job system: %s", exc)
                state = Unavailable(str(exc))
            if state_ref is not None and isinstance(state, AppState):
                state_ref.state = state
            try:
                yield state
            finally:
                if state_ref is not None:
                    state_ref.state = None
        finally:
            try:
                await stack.aclose()
            finally:
                if on_closed is not None:
                    on_closed()

    server: MCPServer[AppState | Unavailable] = MCPServer(
        name="agent-personas",
        title="Agent Personas",
        instructions=server_instructions(remote_clients=settings.remote_clients),
        version=package_version(),
        lifespan=lifespan,
        log_level=settings.log_level,
    )
    register_job_tools(server, personas.all(), single=settings.persona_tools == "single")
    register_ops_tools(server)
    register_job_resources(server)
    register_standards(server)
    register_proposal_tools(server)
    register_review_tools(server)
    register_persona_tools(server, personas.all())
    register_completions(server)
    register_logging(server)
    register_roots(server, lambda state: state.workspace if isinstance(state, AppState) else None)
    left_out = offer_only(server, settings.tools)
    server.middleware.append(trim_tools_list)
    hidden = frozenset() if settings.remote_clients else frozenset(CLIENT_CODE_PARAMS)
    if hidden:
        server.middleware.append(hide_client_code)
    server.middleware.append(guard_tool_calls(registered_tool_arguments(server), hidden, left_out))
    return server


def offer_only(server: MCPServer[Any], spec: str) -> dict[str, str]:
    """Keep the tools of the PERSONAS_TOOLS selection; raises ToolSelectionError naming the bad part.
    Returns each tool left out with the error a call to it gets (how to add it)."""
    registered = registered_tool_names(server)
    left_out = not_offered(spec, registered)
    for name in left_out:
        server.remove_tool(name)
    return left_out
