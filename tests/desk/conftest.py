"""A real desk over a real project: stores, index (fast embedder), Redis, worker, served on loopback;
Playwright drives Debian's chromium against it (no browser download)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from mcp_server.app import AppState, open_app
from mcp_server.desk.app import build_desk
from mcp_server.settings import Settings
from personas.registry import PersonaRegistry
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
    settings = make_settings(redis_url=redis_url)
    personas = PersonaRegistry.load(settings.personas_dir, claude_root=settings.claude_agents_root)
    async with open_app(settings, personas) as state:
        await state.standards.wait_ready(60)
        port = free_port()
        config = uvicorn.Config(
            build_desk(lambda: state, host="127.0.0.1"),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
        server = uvicorn.Server(config)
        sock = config.bind_socket()
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            yield Site(state=state, base=f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 15)


@pytest.fixture
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"chromium not found at {CHROMIUM}: .ci/run installs it with apt (package 'chromium')")
        pytest.skip(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
async def page(chromium_path: str, site: Site) -> AsyncIterator[Any]:
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
