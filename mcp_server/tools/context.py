"""The typed MCP context every tool and resource receives: the SDK's generic ``Context`` over AppState."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context

from mcp_server.app import AppState

AppContext = Context[AppState, Any]
"""What a tool or resource handler declares as its ``ctx`` parameter; its lifespan state is the AppState."""


def app_state(ctx: AppContext) -> AppState:
    """The AppState the server's lifespan yielded (typed by the context, no run-time check)."""
    return ctx.request_context.lifespan_context
