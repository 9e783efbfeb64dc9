"""The MCP SDK internals this server relies on, fenced in one place (each is tested in tests/test_sdk_compat.py).

MCPServer has no public way to list its registered tools synchronously, nor to register the
``logging/setLevel`` request or a notification handler with the request context; the low-level
``Server`` it wraps does. A request's ServerSession does not expose its connection's per-connection
state, which is where a session's log level and roots are kept.
"""

from __future__ import annotations

from typing import Any

from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession


def registered_tool_names(server: MCPServer[Any]) -> list[str]:
    """Names of the tools registered so far, in registration order (no request needed)."""
    return [tool.name for tool in server._tool_manager.list_tools()]


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
