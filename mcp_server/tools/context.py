"""The typed MCP context every tool and resource receives: the SDK's generic ``Context`` over the lifespan state."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from mcp_server.state import AppState, Unavailable

AppContext = Context[AppState | Unavailable, Any]
"""What a tool or resource handler declares as its ``ctx`` parameter: its lifespan state is what
build_server's lifespan yields (the AppState, or Unavailable when the stores could not open)."""


def app_state(ctx: AppContext) -> AppState:
    """The AppState (typed by the context); a server whose stores could not open answers with the reason."""
    state = ctx.request_context.lifespan_context
    if isinstance(state, Unavailable):
        raise ToolError(f"agent-personas cannot serve this: {state.reason}")
    return state
