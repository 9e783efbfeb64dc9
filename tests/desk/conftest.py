"""A real desk over a real project: stores, index (fast embedder), Redis, worker, served on loopback;
Playwright drives Debian's chromium against it (no browser download)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from mcp_server.app import open_app
from mcp_server.desk.app import build_desk
from mcp_server.settings import Settings
from mcp_server.state import AppState
from personas.registry import PersonaRegistry
from tests.fakes.anthropic_api import FakeAnthropic
from tests.redis_process import free_port

CHROMIUM = os.environ.get("PERSONAS_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots of each page (test artifacts; PERSONAS_DESK_SCREENSHOTS keeps them somewhere else)."""
    wanted = os.environ.get("PERSONAS_DESK_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("desk-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Site:
    state: AppState
    base: str
    requests: list[str] = field(default_factory=list)

    async def draft(self, **overrides: Any) -> str:
        values: dict[str, Any] = {
            "domain": "security",
            "topic": "session-cookies",
            "title": "Session cookies are HttpOnly and SameSite",
            "content": "## The rule\nSet `HttpOnly`, `Secure` and `SameSite=Strict` on every session cookie.\n",
            "rationale": "Seen without flags in **api/session.py**.",
            "proposed_by": "security",
            "job_id": None,
        }
        values.update(overrides)
        return await self.state.proposals.store.create_draft(**values)


@pytest.fixture
async def site(make_settings: Callable[..., Settings], redis_url: str) -> AsyncIterator[Site]:
    """A project without an API key: persona jobs complete as briefings."""
    async with open_site(make_settings(redis_url=redis_url)) as opened:
        yield opened


@pytest.fixture
async def review_site(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> AsyncIterator[Site]:
    """A project whose persona runs talk to the scripted fake Messages API."""
    settings = make_settings(redis_url=redis_url, anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url)
    async with open_site(settings) as opened:
        yield opened


@asynccontextmanager
async def open_site(settings: Settings) -> AsyncIterator[Site]:
    personas = PersonaRegistry.load(settings.personas_dir, claude_root=settings.claude_agents_root)
    async with open_app(settings, personas) as state:
        await state.standards.wait_ready(60)
        port = free_port()
        app = build_desk(lambda: state, host="127.0.0.1")
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        sock = config.bind_socket()
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            yield Site(state=state, base=f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 60)


@pytest.fixture
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"chromium not found at {CHROMIUM}: .ci/run installs it with apt (package 'chromium')")
        pytest.skip(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@asynccontextmanager
async def open_page(chromium_path: str, site: Site) -> AsyncIterator[Any]:
    """A Chromium page logging every request; on exit, asserts none left loopback."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        page.on("request", lambda request: site.requests.append(request.url))
        try:
            yield page
        finally:
            await context.close()
            await browser.close()
    hosts = {urlsplit(url).hostname or "" for url in site.requests if not url.startswith(("data:", "about:"))}
    assert hosts <= {"127.0.0.1"}, f"the page loaded something from off the machine: {sorted(hosts)}"


@pytest.fixture
async def page(chromium_path: str, site: Site) -> AsyncIterator[Any]:
    async with open_page(chromium_path, site) as opened:
        yield opened
