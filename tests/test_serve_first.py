"""The server answers initialize and tools/list before its stores are open (mcp_server/starting.py):
requests that use the state wait for the start and see what it opened; the client's roots are asked
once the workspace exists; a client leaving during the start closes what was opened. The cyclic
garbage collector is paused while the server is built (mcp_server/cli.py)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

import mcp_server.app as app_module
import mcp_server.server as server_module
from mcp_server.app import open_app
from mcp_server.server import build_server
from mcp_server.settings import Settings
from mcp_server.starting import Starting
from tests.conftest import wait_for
from tests.probe import run_probe
from tests.test_roots import Roots

HANG_BOUND = 60.0  # seconds: a hang bound, never reached when the code works


class Gate:
    """Holds the real open_app until released, and records the order of what happened."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.release = asyncio.Event()
        self.waiting = asyncio.Event()
        self.entered = asyncio.Event()  # the server began to open its stores
        self.events: list[str] = []
        real_open_app = open_app
        real_wait = Starting.wait

        @asynccontextmanager
        async def gated(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            self.entered.set()
            await self.release.wait()
            async with real_open_app(*args, **kwargs) as state:
                self.events.append("opened")
                yield state
            self.events.append("closed")

        async def wait(starting: Starting[Any]) -> Any:
            self.waiting.set()
            return await real_wait(starting)

        monkeypatch.setattr(app_module, "open_app", gated)  # the server imports it when it starts
        monkeypatch.setattr(Starting, "wait", wait)


@pytest.fixture
def settings(make_settings: Callable[..., Settings], redis_url: str) -> Settings:
    return make_settings(redis_url=redis_url)


async def test_tools_list_is_answered_before_the_stores_open_and_calls_wait_for_them(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate(monkeypatch)
    async with Client(build_server(settings, watch=False)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        gate.events.append("listed")
        call = asyncio.create_task(client.call_tool("list_personas", {}))
        await asyncio.wait_for(gate.waiting.wait(), HANG_BOUND)  # the call waits for the start
        gate.events.append("released")
        gate.release.set()
        result = await asyncio.wait_for(call, HANG_BOUND)
        gate.events.append("answered")
    assert "list_personas" in names
    assert not result.is_error, result.content
    assert "security" in {p["id"] for p in (result.structured_content or {})["personas"]}
    assert gate.events == ["listed", "released", "opened", "answered", "closed"]


@pytest.mark.filterwarnings("ignore:The roots capability is deprecated")
async def test_the_clients_roots_are_asked_once_the_server_has_started(
    tmp_path: Path, make_settings: Callable[..., Settings], redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client's 'initialized' arrives while the server starts: the roots are asked after."""
    window = tmp_path / "window"
    window.mkdir()
    roots = Roots(window)
    make_settings()  # clears the PERSONAS_ variables
    started_in = tmp_path / "server-cwd"
    started_in.mkdir()
    monkeypatch.chdir(started_in)  # no project root configured: the client's root is followed
    settings = Settings(
        redis_url=redis_url, embedder="hashing", tools="all", embedding_cache_dir=tmp_path / "embedding-cache"
    )
    assert not settings.project_root_given
    gate = Gate(monkeypatch)
    async with Client(build_server(settings, watch=False), mode="legacy", list_roots_callback=roots) as client:
        await client.list_tools()
        asked_before_start = roots.asked
        gate.release.set()

        async def followed() -> dict[str, Any] | None:
            info: dict[str, Any] = ((await client.call_tool("list_personas", {})).structured_content or {})["workspace"]
            return info if info["project_root"] == str(window.resolve()) else None

        info = await wait_for(followed, what="the project root to follow the client's root")
    assert asked_before_start == 0
    assert roots.asked == 1
    assert info["project_root_from"] == "client root"


async def test_over_stdio_the_stores_open_once_the_client_has_listed_the_tools(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening the stores imports Redis, arq and the index and takes the event loop: it waits until
    the client has what it waits for at start (initialize, tools/list), so those answers come first."""
    monkeypatch.setattr(server_module, "OPEN_AFTER_SECONDS", HANG_BOUND)
    gate = Gate(monkeypatch)
    async with Client(build_server(settings, watch=False)) as client:
        await client.list_prompts()  # a round trip: the start task has had its turns, and is waiting
        entered_before_listing = gate.entered.is_set()
        await client.list_tools()
        await asyncio.wait_for(gate.entered.wait(), HANG_BOUND)
        gate.release.set()
        assert not (await client.call_tool("list_personas", {})).is_error
    assert not entered_before_listing


async def test_a_call_before_any_tool_list_opens_the_stores_at_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "OPEN_AFTER_SECONDS", HANG_BOUND)
    async with Client(build_server(settings, watch=False)) as client:
        result = await asyncio.wait_for(client.call_tool("list_personas", {}), HANG_BOUND / 2)
    assert not result.is_error, result.content
    assert "security" in {p["id"] for p in (result.structured_content or {})["personas"]}


async def test_a_client_that_never_lists_the_tools_gets_the_stores_opened_anyway(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "OPEN_AFTER_SECONDS", 0.05)
    gate = Gate(monkeypatch)
    async with Client(build_server(settings, watch=False)) as client:
        await asyncio.wait_for(gate.entered.wait(), HANG_BOUND)  # nothing sent after initialize
        gate.release.set()
        assert not (await client.call_tool("list_personas", {})).is_error
    assert gate.events == ["opened", "closed"]


async def test_a_client_leaving_while_the_server_starts_closes_what_was_opened(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate(monkeypatch)
    closed = asyncio.Event()
    async with Client(build_server(settings, watch=False, on_closed=closed.set)) as client:
        await client.list_tools()
    assert closed.is_set()
    assert gate.events == []  # never opened: nothing left running


async def test_a_start_that_fails_unexpectedly_is_reported_on_every_call(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> AbstractAsyncContextManager[Any]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(app_module, "open_app", broken)
    async with Client(build_server(settings, watch=False)) as client:
        assert (await client.list_tools()).tools
        for _ in range(2):
            result = await client.call_tool("list_personas", {})
            assert result.is_error
            assert "the server failed to start: disk on fire" in str(result.content)


async def test_a_start_whose_imports_fail_is_reported_on_every_call(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job system's modules are imported only when the stores open: a broken install (a missing or
    broken dependency of theirs) is said on every call, as any failed start is, instead of calls
    waiting for a start that never comes."""
    monkeypatch.setitem(sys.modules, "mcp_server.app", None)  # its import raises ImportError
    async with Client(build_server(settings, watch=False)) as client:
        assert (await client.list_tools()).tools
        for _ in range(2):
            result = await asyncio.wait_for(client.call_tool("list_personas", {}), HANG_BOUND)
            assert result.is_error
            assert "the server failed to start" in str(result.content)
            assert "mcp_server.app" in str(result.content)


GC_PROBE = """
import gc, json
import mcp_server.server as server
seen = {}
real = server.build_server
def build(*args, **kwargs):
    seen["collector_on_while_building"] = gc.isenabled()
    return real(*args, **kwargs)
server.build_server = build
from mcp_server.cli import main
code = main(["serve", "--no-worker", "--no-watch"])  # stdin is empty: the session ends at once
seen.update(code=code, collector_on_after=gc.isenabled(), frozen=gc.get_freeze_count() > 0)
print(json.dumps(seen))
"""


def test_the_collector_is_paused_while_the_server_is_built_and_on_after(tmp_path: Path) -> None:
    """Start-up's long-lived objects are made with the cyclic collector paused, then frozen."""
    seen = run_probe(
        GC_PROBE, cwd=tmp_path, env={"PERSONAS_PROJECT_ROOT": str(tmp_path), "PERSONAS_EMBEDDER": "hashing"}
    )
    assert seen == {"collector_on_while_building": False, "code": 0, "collector_on_after": True, "frozen": True}
