"""Reach the AppState from a tool's MCP context."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from mcp_server.app import AppState, Unavailable


def app_state(ctx: Context[Any, Any]) -> AppState:
    state = ctx.request_context.lifespan_context
    if isinstance(state, Unavailable):
        raise ToolError(f"agent-personas cannot serve this: {state.reason}")
    if not isinstance(state, AppState):
        raise RuntimeError("agent-personas: server state is not initialised")
    return state
