"""Reach the AppState from a tool's MCP context."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context

from mcp_server.app import AppState


def app_state(ctx: Context[Any, Any]) -> AppState:
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):
        raise RuntimeError("agent-personas: server state is not initialised")
    return state
