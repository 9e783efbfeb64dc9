"""A client diff of bare section headers: 2 MB names ~70,000 files, which took seconds of parsing on
the event loop and stored megabytes with the job. The number of file sections has a bound."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from personas.changes.supplied import SuppliedCodeError, SuppliedLimits, supplied_changes


def _headers(count: int) -> str:
    return "".join(f"diff --git a/f{i}.py b/f{i}.py\n" for i in range(count))


def test_the_bound_on_file_sections() -> None:
    limit = SuppliedLimits().max_diff_files
    assert len(supplied_changes(_headers(limit), max_diff_chars=1000).files) == limit
    with pytest.raises(SuppliedCodeError, match=rf"diff: {limit + 1:,} file sections; the limit is {limit:,}"):
        supplied_changes(_headers(limit + 1), max_diff_chars=1000)


async def test_over_mcp_a_diff_naming_too_many_files_is_a_tool_error(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(redis_url=redis_url, remote_clients=True)
    async with Client(build_server(settings, watch=False)) as client:
        answer = await client.call_tool("invoke_qa", {"task": "review", "diff": _headers(50_000)})
        jobs = (await client.call_tool("list_persona_jobs", {})).structured_content
    text = "".join(getattr(c, "text", "") for c in answer.content)
    assert answer.is_error and "50,000 file sections" in text and "split the review" in text
    assert jobs is not None and jobs["total_count"] == 0
