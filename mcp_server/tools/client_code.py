"""``files`` and ``diff`` of the invoke tools are advertised only by a server for remote clients.

Every invoke tool accepts them (so a server reading its own disk refuses them with a tool error
saying how to enable them, instead of the SDK silently dropping unknown arguments), but only a
server started with ``--remote-clients`` lists them in ``tools/list``: the others' assistants never
need them, and the default tools/list stays within its size budget.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

CLIENT_CODE_PARAMS = ("files", "diff")


def _without_client_code(tool: dict[str, Any]) -> dict[str, Any]:
    schema = tool.get("inputSchema")
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(schema, dict) or not isinstance(properties, dict):
        return tool
    if not all(name in properties for name in CLIENT_CODE_PARAMS):
        return tool
    kept = {k: v for k, v in properties.items() if k not in CLIENT_CODE_PARAMS}
    return {**tool, "inputSchema": {**schema, "properties": kept}}


async def hide_client_code(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware: leave ``files`` and ``diff`` out of each tool of a ``tools/list`` result."""
    result = await call_next(ctx)
    if ctx.method != "tools/list" or not isinstance(result, dict) or not isinstance(result.get("tools"), list):
        return result
    return {**result, "tools": [_without_client_code(t) if isinstance(t, dict) else t for t in result["tools"]]}
