"""reset_persona_jobs deletes only on the JSON boolean true: "true", 1 or "yes" are refused, not coerced."""

from __future__ import annotations

from collections.abc import Callable

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings


async def test_only_boolean_true_confirms_a_reset(make_settings: Callable[..., Settings], redis_url: str) -> None:
    async with Client(build_server(make_settings(redis_url=redis_url), watch=False)) as client:
        invoked = await client.call_tool("invoke_qa", {"task": "review app.py"})
        assert not invoked.is_error, invoked.content
        refused = [await client.call_tool("reset_persona_jobs", {"confirm": v}) for v in ("true", 1, "yes", "1")]
        kept = (await client.call_tool("list_persona_jobs", {})).structured_content
        reset = await client.call_tool("reset_persona_jobs", {"confirm": True})
        after = (await client.call_tool("list_persona_jobs", {})).structured_content
    assert all(r.is_error for r in refused)
    assert kept is not None and kept["total_count"] == 1
    assert not reset.is_error and after is not None and after["total_count"] == 0
