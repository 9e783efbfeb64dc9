"""The index folder (``<data_dir>/index``) deleted or garbled while the server runs: search_standards
keeps answering (with a 'building' status while the index is rebuilt), the index is rebuilt from
the Markdown, and standards written meanwhile are found too."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import wait_for
from tests.reliability.helpers import call

OKAPI = "---\ntags: [okapi]\n---\n# Okapi tokens\n\n## Rule\n\nOkapi tokens expire after fifteen minutes.\n"
NARWHAL = "# Narwhal retries\n\n## Rule\n\nNarwhal clients retry with jittered backoff.\n"


def _delete(index_dir: Path) -> None:
    shutil.rmtree(index_dir)


def _garble(index_dir: Path) -> None:
    for path in (index_dir / "lancedb").rglob("*"):
        if path.is_file():
            path.write_bytes(b"\x00garbage\xff" * 3)


def _replace_with_a_file(index_dir: Path) -> None:
    shutil.rmtree(index_dir / "lancedb")
    (index_dir / "lancedb").write_bytes(b"not a database")


async def _search(client: Client, query: str) -> dict[str, Any]:
    return await call(client, "search_standards", query=query, limit=5)


def _files(body: dict[str, Any]) -> set[str]:
    return {f"{hit['source']}:{hit['file']}" for hit in body["results"]}


@pytest.mark.parametrize("damage", [_delete, _garble, _replace_with_a_file], ids=["deleted", "garbled", "replaced"])
async def test_search_survives_a_damaged_index_and_it_is_rebuilt(
    make_settings: Callable[..., Settings],
    redis_url: str,
    project: Path,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[Path], None],
) -> None:
    standards = project / ".agent-os" / "standards"
    (standards / "security").mkdir(parents=True)
    (standards / "security" / "okapi-tokens.md").write_text(OKAPI)
    settings = make_settings(redis_url=redis_url)
    async with Client(build_server(settings, run_worker=False)) as client:

        async def found(query: str, file: str) -> dict[str, Any] | None:
            body = await _search(client, query)  # must never be a tool error
            return body if body["status"]["state"] == "ready" and file in _files(body) else None

        await wait_for(lambda: found("okapi tokens expire", "project:security/okapi-tokens.md"), timeout=60)
        with caplog.at_level(logging.WARNING, logger="standards"):
            damage(settings.index_dir)
            during = await _search(client, "okapi tokens expire")
            (standards / "operations").mkdir()
            (standards / "operations" / "narwhal-retries.md").write_text(NARWHAL)
            after = await wait_for(
                lambda: found("okapi tokens expire", "project:security/okapi-tokens.md"),
                timeout=30,
                what="the index to be rebuilt",
            )
            new = await wait_for(
                lambda: found("narwhal retry backoff", "project:operations/narwhal-retries.md"),
                timeout=30,
                what="a standard written after the damage to be indexed",
            )
            listing = await client.read_resource("personas://standards/project")

    assert during["status"]["state"] in ("building", "ready"), during["status"]
    if during["status"]["state"] == "building":
        assert "rebuilding" in during["status"]["message"]
    assert after["status"]["chunks"] > 10  # the universal starters are back as well
    assert new["results"][0]["file"] == "operations/narwhal-retries.md"
    assert "security/okapi-tokens.md" in listing.contents[0].text  # type: ignore[union-attr]
    assert any("rebuilding" in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
