"""The MCP SDK internals this server relies on, fenced in one place (each is tested in tests/test_sdk_compat.py).

MCPServer has no public way to list its registered tools synchronously, nor to register the
``logging/setLevel`` request or a notification handler with the request context; the low-level
``Server`` it wraps does. A request's ServerSession does not expose its connection's per-connection
state, which is where a session's log level and roots are kept. MCPServer() always runs the SDK's
logging set-up, which imports rich for a handler that ``logging.basicConfig`` then ignores when
logging is configured already. MCPServer builds a tool's schemas as it is registered (pydantic,
~2-5 ms a tool), and offers no way to register a tool it would then not build.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import mcp.server.mcpserver.server as sdk_server
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession


@dataclass(frozen=True)
class DeferredTool:
    """A tool registered while :func:`tools_deferred` was open: not built yet."""

    name: str
    fn: Callable[..., Any]
    options: dict[str, Any] = field(default_factory=dict)
    """The other arguments of ``add_tool`` (title, description, annotations...), as given."""

    def add_to(self, server: MCPServer[Any]) -> None:
        """Register it for real: its schemas are built now."""
        server.add_tool(self.fn, **self.options)


@contextmanager
def tools_deferred(server: MCPServer[Any]) -> Iterator[list[DeferredTool]]:
    """While open, ``server.add_tool`` (and so ``@server.tool()``) only records each tool, in order,
    in the list yielded: the caller adds those it keeps (:meth:`DeferredTool.add_to`), and the
    others' schemas are never built."""
    deferred: list[DeferredTool] = []

    def record(fn: Callable[..., Any], name: str | None = None, **options: Any) -> None:
        deferred.append(DeferredTool(name or fn.__name__, fn, {"name": name, **options}))

    # An instance attribute shadows the method, and so the decorator's call of it.
    server.add_tool = record  # type: ignore[method-assign,assignment]
    try:
        yield deferred
    finally:
        delattr(server, "add_tool")


def registered_tool_arguments(server: MCPServer[Any]) -> dict[str, tuple[str, ...]]:
    """Each registered tool's argument names, in order (the properties of its full input schema)."""
    out: dict[str, tuple[str, ...]] = {}
    for tool in server._tool_manager.list_tools():
        properties = tool.parameters.get("properties")
        out[tool.name] = tuple(properties) if isinstance(properties, dict) else ()
    return out


def lowlevel(server: MCPServer[Any]) -> Server[Any]:
    """The low-level server under an MCPServer: where request and notification handlers live."""
    low: Server[Any] = server._lowlevel_server
    return low


def connection_state(session: ServerSession) -> dict[str, Any]:
    """Scratch state of the client connection a request came in on (lives as long as the connection)."""
    state: dict[str, Any] = session._connection.state
    return state


@contextmanager
def logging_left_alone() -> Iterator[None]:
    """Construct an MCPServer in this block: when the root logger has handlers already (the CLI
    configured logging), the SDK's ``configure_logging`` (a ``logging.basicConfig`` with a rich
    handler, which does nothing then) is skipped, and with it importing rich (~30 ms of start-up).
    Without handlers it runs as usual."""
    if not logging.getLogger().handlers:
        yield
        return
    original = getattr(sdk_server, "configure_logging")  # noqa: B009 (not exported by the SDK)

    def configured_already(level: str = "INFO") -> None:
        return None

    setattr(sdk_server, "configure_logging", configured_already)  # noqa: B010
    try:
        yield
    finally:
        setattr(sdk_server, "configure_logging", original)  # noqa: B010
