"""Helpers for hostile-input tests: refused tool calls and resource reads."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client, MCPError


async def refused(client: Client, tool: str, **args: Any) -> str:
    """Call a tool that must refuse; the error text the assistant sees."""
    result = await client.call_tool(tool, args)
    assert result.is_error, (tool, args, result.structured_content)
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def unreadable(client: Client, uri: str) -> str:
    """Read a resource that must be refused; the error message."""
    with pytest.raises(MCPError) as info:
        await client.read_resource(uri)
    return str(info.value)
