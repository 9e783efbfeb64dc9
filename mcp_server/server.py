"""build_server(settings): the MCP server factory. No work at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any, cast

from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession

from mcp_server.completions import register_completions
from mcp_server.desk.state import StateRef
from mcp_server.instructions import server_instructions
from mcp_server.resources import register_job_resources
from mcp_server.roots import RootsPolicy, register_roots, roots_policy
from mcp_server.sdk_compat import DeferredTool, logging_left_alone, registered_tool_arguments, tools_deferred
from mcp_server.session_log import register_logging
from mcp_server.settings import Settings
from mcp_server.starting import Starting, wait_for_start
from mcp_server.state import AppState, Unavailable
from mcp_server.tools.client_code import CLIENT_CODE_PARAMS, hide_client_code
from mcp_server.tools.guard import guard_tool_calls
from mcp_server.tools.jobs import register_job_tools
from mcp_server.tools.ops import register_ops_tools
from mcp_server.tools.personas import guard_prompts, register_persona_tools
from mcp_server.tools.profiles import not_offered
from mcp_server.tools.proposals import register_proposal_tools
from mcp_server.tools.review import register_review_tools
from mcp_server.tools.standards import register_standards
from mcp_server.tools.trim import trim_tools_list
from personas.registry import PersonaRegistry

log = logging.getLogger(__name__)

#: Over stdio the stores open once the client has listed the tools, or after this long at most.
OPEN_AFTER_SECONDS = 1.0


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

    lifespan = app_lifespan(
        settings,
        personas,
        run_worker=run_worker,
        watch=watch,
        roots=roots,
        on_closed=on_closed,
        state_ref=state_ref,
        # Over stdio the client lists the tools first: the stores open once it has them (or something
        # needs them). Over HTTP the server starts before any client, so they open at once.
        open_after=None if http_host is not None else OPEN_AFTER_SECONDS,
    )
    with logging_left_alone():
        server: MCPServer[AppState | Unavailable] = MCPServer(
            name="agent-personas",
            title="Agent Personas",
            instructions=server_instructions(remote_clients=settings.remote_clients),
            version=package_version(),
            # Handlers see the AppState or Unavailable it starts to (mcp_server.starting), not the Starting.
            lifespan=cast(Any, lifespan),
            log_level=settings.log_level,
        )
    with tools_deferred(server) as tools:  # each tool's schemas are built below if it is offered
        register_job_tools(server, personas.all(), single=settings.persona_tools == "single")
        register_ops_tools(server)
        register_job_resources(server)
        register_standards(server)
        register_proposal_tools(server)
        register_review_tools(server)
        register_persona_tools(server, personas.all())
        register_completions(server)
        register_logging(server)
        register_roots(server, follow_roots)
    left_out = offer_only(server, tools, settings.tools)
    server.middleware.append(wait_for_start)
    server.middleware.append(trim_tools_list)
    hidden = frozenset() if settings.remote_clients else frozenset(CLIENT_CODE_PARAMS)
    if hidden:
        server.middleware.append(hide_client_code)
    server.middleware.append(guard_tool_calls(registered_tool_arguments(server), hidden, left_out))
    server.middleware.append(guard_prompts(personas.ids(), settings.max_context_chars))
    return server


def app_lifespan(
    settings: Settings,
    personas: PersonaRegistry,
    *,
    run_worker: bool,
    watch: bool,
    roots: RootsPolicy,
    on_closed: Callable[[], None] | None,
    state_ref: StateRef | None,
    open_after: float | None = None,
) -> Callable[[MCPServer[Any]], AbstractAsyncContextManager[Starting[AppState | Unavailable]]]:
    """The server's lifespan: it yields a :class:`Starting` at once and opens every resource on a task
    of its own; requests that need them wait (:func:`wait_for_start`). ``on_closed`` is called once
    everything is closed; ``state_ref`` holds the open state (for the desk). With ``open_after``, the
    resources start to open once the client has listed the tools, a request needs them, or that many
    seconds have passed (:meth:`Starting.opening_wanted`): their imports and work would otherwise
    hold up the answers to ``initialize`` and ``tools/list``."""

    async def run_app(starting: Starting[AppState | Unavailable], stop: asyncio.Event) -> None:
        """Open every resource, hand it to the requests waiting (:mod:`mcp_server.starting`), keep it
        open until ``stop`` is set, close it: all in this one task."""
        if open_after is not None:
            await starting.opening_wanted(within=open_after)
        async with AsyncExitStack() as stack:
            state: AppState | Unavailable
            start_errors: tuple[type[Exception], ...] = ()
            try:
                # Redis, arq, the stores and the index load here, on a thread: the event loop meanwhile
                # sends what the session is answering (the tools/list that let this start). A broken
                # install fails here, and is reported as any failed start is.
                open_app, start_errors = await asyncio.to_thread(job_system)
                state = await stack.enter_async_context(
                    open_app(settings, personas, run_worker=run_worker, watch=watch, roots=roots)
                )
            except start_errors as exc:
                # Stay up: the client sees the reason on every tool call rather than EOF.
                log.error("agent-personas cannot start its job system: %s", exc)
                state = Unavailable(str(exc))
            except Exception as exc:  # a bug: said on every tool call, as above, and logged in full
                log.exception("agent-personas failed to start")
                starting.start(Unavailable(f"the server failed to start: {exc}"))
                return
            if state_ref is not None and isinstance(state, AppState):
                state_ref.state = state
            try:
                starting.start(state)
                await stop.wait()
            finally:
                if state_ref is not None:
                    state_ref.state = None

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[Starting[AppState | Unavailable]]:
        # The session is served at once (initialize, tools/list); the stores open meanwhile.
        starting: Starting[AppState | Unavailable] = Starting()
        stop = asyncio.Event()
        task = asyncio.create_task(run_app(starting, stop), name="agent-personas-start")
        try:
            yield starting
        finally:
            try:
                if starting.started:
                    stop.set()
                else:  # stopped while starting: what is open so far closes in reverse
                    task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            finally:
                if on_closed is not None:
                    on_closed()

    return lifespan


def job_system() -> tuple[Callable[..., AbstractAsyncContextManager[AppState]], tuple[type[Exception], ...]]:
    """Import the job system (Redis, arq, the stores, the index): :func:`mcp_server.app.open_app`, and
    the errors of a start that failed for a reason the user can fix (said as they are)."""
    from mcp_server.app import open_app
    from mcp_server.data_dir import DataDirError
    from mcp_server.embedded import EmbeddedRedisError
    from standards.db import StoreError
    from standards.sqlite import DatabaseUnusableError

    return open_app, (DatabaseUnusableError, StoreError, DataDirError, EmbeddedRedisError)


def follow_roots(state: object, session: ServerSession) -> None:
    """Ask ``session``'s client for its roots, for the workspace of the server's state (once it is
    open: the client's ``initialized`` arrives while it starts)."""
    if isinstance(state, Starting):
        state.when_started(lambda started: follow_roots(started, session))
    elif isinstance(state, AppState):
        state.workspace.refresh(session)


def offer_only(server: MCPServer[Any], tools: list[DeferredTool], spec: str) -> dict[str, str]:
    """Add the tools of the PERSONAS_TOOLS selection to ``server``, in order; raises
    ToolSelectionError naming the bad part. Returns each tool left out with the error a call to it
    gets (how to add it). A tool left out is never built: building the tools is most of the
    server's own start-up work."""
    left_out = not_offered(spec, [tool.name for tool in tools])
    for tool in tools:
        if tool.name not in left_out:
            tool.add_to(server)
    return left_out
