"""A new project's first search_standards over MCP answers from the starter standards at once when the
user's embedding cache already holds their vectors (standards.index.bootstrap), not "building"."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from standards.index import bootstrap
from tests.conftest import wait_for

QUERY = "how do we rotate secrets"


async def test_a_new_projects_first_search_answers_from_the_cached_starters(
    make_settings: Callable[..., Settings], redis_url: str, tmp_path: Path
) -> None:
    first, second = tmp_path / "first-project", tmp_path / "second-project"
    first.mkdir()
    second.mkdir()
    async with Client(build_server(make_settings(project_root=first, redis_url=redis_url), run_worker=False)) as client:

        async def ready() -> dict[str, Any] | None:
            body = (await client.call_tool("search_standards", {"query": QUERY})).structured_content
            return body if body and body["status"]["state"] == "ready" and body["results"] else None

        built = await wait_for(ready, timeout=60, what="the first project's index")
    assert built["status"]["message"] != bootstrap.MESSAGE  # no cache yet: built and embedded

    settings = make_settings(project_root=second, redis_url=redis_url)
    async with Client(build_server(settings, run_worker=False)) as client:
        result = await client.call_tool("search_standards", {"query": QUERY})  # the very first call
        status = json.loads((await client.read_resource("personas://index/status")).contents[0].text)  # type: ignore[union-attr]
    assert not result.is_error, result.content
    body = result.structured_content
    assert body is not None
    assert body["status"]["state"] == "ready", body["status"]
    assert [(h["source"], h["file"]) for h in body["results"]] == [(h["source"], h["file"]) for h in built["results"]]
    assert status["state"] == "ready"
    assert status["chunks"] == built["status"]["chunks"]
