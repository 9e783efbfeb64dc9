"""An approval on the server announces the changed standard to every host over Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import redis.asyncio as aioredis
from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from standards.curation.store import ProposalStore
from tests.proposals.conftest import DRAFT
from worker.standards_events import publish_changed, subscribe_changed


async def test_an_approval_is_announced_to_subscribers(make_settings: Callable[..., Settings], redis_url: str) -> None:
    settings = make_settings(redis_url=redis_url)
    async with ProposalStore.open(settings.proposals_database, settings.standards_dir) as store:
        proposal_id = await store.create_draft(**DRAFT)
    heard: asyncio.Queue[list[str]] = asyncio.Queue()

    async def on_change(paths: list[str]) -> None:
        await heard.put(paths)

    other_host = aioredis.Redis.from_url(redis_url)
    try:
        async with (
            subscribe_changed(other_host, on_change),
            Client(build_server(settings, run_worker=False, watch=False)) as client,
        ):
            approved = await client.call_tool("approve_standard_proposal", {"proposal_id": proposal_id})
            assert not approved.is_error, approved.content
            paths = await asyncio.wait_for(heard.get(), timeout=30)
    finally:
        await other_host.aclose()
    assert paths == [f"{DRAFT['domain']}/{DRAFT['topic']}.md"]


async def test_a_failing_handler_or_a_bad_event_does_not_end_the_subscription(redis_url: str) -> None:
    calls: list[list[str]] = []
    got_second = asyncio.Event()

    async def on_change(paths: list[str]) -> None:
        calls.append(paths)
        if len(calls) == 1:
            raise RuntimeError("index busy")
        got_second.set()

    client = aioredis.Redis.from_url(redis_url)
    try:
        async with subscribe_changed(client, on_change):
            await client.publish("agent-personas:standards-changed", b"not json")
            assert await publish_changed(client, ["a.md"]) == 1
            assert await publish_changed(client, ["b.md"]) == 1
            await asyncio.wait_for(got_second.wait(), timeout=30)
    finally:
        await client.aclose()
    assert calls == [["a.md"], ["b.md"]]
