"""Running the desk: ``personas desk`` on its own, or mounted at ``/desk`` beside ``/mcp`` by ``serve --http``."""

from __future__ import annotations

import asyncio
import logging
import webbrowser
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.desk.app import build_desk
from mcp_server.desk.state import StateRef

if TYPE_CHECKING:
    from mcp_server.settings import Settings

log = logging.getLogger(__name__)

DESK_PREFIX = "/desk"


class DeskDispatcher:
    """Send ``/desk…`` to the desk (its own cookie login) and everything else to the MCP app."""

    def __init__(self, mcp_app: ASGIApp, desk_app: ASGIApp) -> None:
        self.mcp_app = mcp_app
        self.desk_app = desk_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == DESK_PREFIX or path.startswith(DESK_PREFIX + "/")):
            await self.desk_app({**scope, "root_path": scope.get("root_path", "") + DESK_PREFIX}, receive, send)
        else:
            await self.mcp_app(scope, receive, send)


def mount_desk(mcp_app: ASGIApp, ref: StateRef, *, host: str, token: str | None) -> ASGIApp:
    return DeskDispatcher(mcp_app, build_desk(ref, host=host, token=token, root_path=DESK_PREFIX))


async def run_desk(settings: Settings, *, host: str, port: int, open_browser: bool, stop: asyncio.Event) -> None:
    """Open the project's state like ``serve`` does (stores, index, Redis, a worker for revision
    jobs) and serve the desk until ``stop`` is set; then shut down like ``serve --http``
    (:func:`mcp_server.http.serve_until`) and close the state."""
    from mcp_server.app import open_app
    from mcp_server.http import listening_socket, serve_until, web_server
    from personas.registry import PersonaRegistry

    token = settings.http_token.get_secret_value() if settings.http_token else None
    sock = listening_socket(host, port)  # first: a taken port opens nothing
    personas = PersonaRegistry.load(settings.personas_dir, claude_root=settings.claude_agents_root)
    async with open_app(settings, personas) as state:
        app = build_desk(lambda: state, host=host, token=token)
        if token is None:  # loopback: every local user reaches it, so only ours is answered
            from mcp_server.same_user import SameUserOnly

            app = SameUserOnly(app)
        web = web_server(app, host=host, port=port, lifespan="off")
        url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
        serving = asyncio.create_task(serve_until(web, stop, sockets=[sock]), name="desk-http")
        log.warning("the desk is at %s%s", url, " (sign in with PERSONAS_HTTP_TOKEN)" if token else "")
        if open_browser:
            await asyncio.to_thread(webbrowser.open, url)
        await serving
    log.info("desk stopped")
