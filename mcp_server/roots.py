"""MCP roots: the project root follows the client's workspace.

When a client declares the ``roots`` capability, the server asks it for its roots (``roots/list``)
once the session is initialized and again on each ``notifications/roots/list_changed``. Unless
PERSONAS_PROJECT_ROOT is set (it always wins), the first root that is a local directory becomes
the project root of persona runs and change reviews: the files they read and the git work tree
they diff. The others are listed by list_personas. Standards, personas and the data directory
stay where the server started (they are opened at start-up).

Roots are asked for on handshake-era sessions (protocol 2025-11-25 and older, which have a
channel for server requests between tool calls), and only where the clients are the local user's
(:func:`roots_policy`): a stdio server, or an HTTP server bound to loopback. An HTTP server bound
off loopback, or started for remote clients, never asks: one client's roots would move every
client's project root (and list its folders to the others); it says so once in its log and in
list_personas. On loopback with several sessions the most recent roots win.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession
from mcp.types import ListRootsRequest, ListRootsResult, NotificationParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from mcp_server.sdk_compat import lowlevel
from personas.runtime.sandbox import system_root
from standards.lazy_model import LazyModel

log = logging.getLogger(__name__)

MAX_ROOTS = 50
#: Seconds to wait for each roots/list request (sent again after each but the last).
ROOTS_ATTEMPT_TIMEOUTS = (2.0, 5.0, 10.0, 10.0)


class WorkspaceInfo(LazyModel):
    project_root: str = Field(description="Where persona runs read files and diff changes.")
    project_root_from: Literal["PERSONAS_PROJECT_ROOT", "client root", "server working directory"]
    client_roots: list[str] = Field(description="The client's workspace roots (file URIs), first = the project.")
    client_roots_ignored: str | None = Field(
        default=None, description="Why this server never follows client roots (a shared HTTP server)."
    )


@dataclass(frozen=True)
class RootsPolicy:
    """Whether clients' MCP roots may move the project root; ``ignored_because`` says why not."""

    ignored_because: str | None = None


def roots_policy(*, http_host: str | None, remote_clients: bool) -> RootsPolicy:
    """Client roots are followed only where the clients are the local user's: a stdio server
    (``http_host`` None) or an HTTP server bound to a loopback name, not serving remote clients."""
    if remote_clients:
        return RootsPolicy(
            "the server serves remote clients (--remote-clients): their roots are folders on their machines; "
            "set PERSONAS_PROJECT_ROOT"
        )
    if http_host is not None:
        from mcp_server.http import needs_token  # HTTP servers only: uvicorn is not imported for stdio

        if needs_token(http_host):
            return RootsPolicy(
                f"the HTTP server is bound to {http_host}, off loopback: one client's roots would move every "
                "client's project root; set PERSONAS_PROJECT_ROOT"
            )
    return RootsPolicy()


class Workspace:
    """The project root persona runs use, moved to the client's first root unless configured."""

    def __init__(
        self, configured: Path, *, explicit: bool, targets: list[Any], policy: RootsPolicy | None = None
    ) -> None:
        self._configured = configured
        self._explicit = explicit
        self._policy = policy or RootsPolicy()
        self._said_ignored = False
        self._targets = targets  # objects with a mutable ``project_root`` (job service, run toolbox)
        self.root = configured
        self.client_roots: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    @asynccontextmanager
    async def running(
        cls, configured: Path, *, explicit: bool, targets: list[Any], policy: RootsPolicy | None = None
    ) -> AsyncIterator[Workspace]:
        workspace = cls(configured, explicit=explicit, targets=targets, policy=policy)
        try:
            yield workspace
        finally:
            for task in workspace._tasks:
                task.cancel()
            await asyncio.gather(*workspace._tasks, return_exceptions=True)

    def info(self) -> WorkspaceInfo:
        source: Literal["PERSONAS_PROJECT_ROOT", "client root", "server working directory"]
        if self._explicit:
            source = "PERSONAS_PROJECT_ROOT"
        elif self.root != self._configured:
            source = "client root"
        else:
            source = "server working directory"
        return WorkspaceInfo(
            project_root=str(self.root),
            project_root_from=source,
            client_roots=self.client_roots,
            client_roots_ignored=self._policy.ignored_because,
        )

    def refresh(self, session: ServerSession) -> None:
        """Ask the client for its roots in the background (a handler must not wait for the client)."""
        capabilities = session.client_capabilities
        if capabilities is None or capabilities.roots is None or session.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        if self._policy.ignored_because is not None:
            if not self._said_ignored:
                self._said_ignored = True
                log.warning("client roots ignored: %s", self._policy.ignored_because)
            return
        task = asyncio.create_task(self._fetch(session), name="roots-list")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, session: ServerSession) -> None:
        # Over streamable HTTP the request travels on the client's GET stream, which the client opens
        # after 'initialized': sent before it is up, the request is dropped unanswered. So a request
        # that times out is sent again, a bounded number of times.
        for attempt, timeout in enumerate(ROOTS_ATTEMPT_TIMEOUTS, start=1):
            try:
                result = await asyncio.wait_for(session.send_request(ListRootsRequest(), ListRootsResult), timeout)
            except TimeoutError:
                if attempt < len(ROOTS_ATTEMPT_TIMEOUTS):
                    continue
                log.warning("could not read the client's roots: no answer to %d requests", attempt)
                return
            except Exception as exc:  # the client's answer is advisory: keep the current root, say why
                log.warning("could not read the client's roots: %s", exc)
                return
            self.follow([str(root.uri) for root in result.roots[:MAX_ROOTS]])
            return

    def follow(self, uris: list[str]) -> None:
        self.client_roots = uris
        if self._explicit:
            return
        first = next((p for p in map(_local_dir, uris) if p is not None), None)
        root = first or self._configured
        if root != self.root:
            log.info("project root follows the client's workspace: %s", root)
        self.root = root
        for target in self._targets:
            target.project_root = root


def _local_dir(uri: str) -> Path | None:
    """The folder of a ``file:`` root; never the file system's root or a system folder, whatever a client
    says (:func:`~personas.runtime.sandbox.system_root`: read_file('proc/self/environ') would hand the
    server's API key and tokens to the model)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = Path(unquote(parsed.path)).resolve()
    if system_root(path):
        log.warning(
            "ignored the client root %s: the file system's root, a system folder or a home folder is never a project",
            uri,
        )
        return None
    return path if path.is_dir() else None


def register_roots(server: MCPServer[Any], follow: Callable[[Any, ServerSession], None]) -> None:
    """Ask for the client's roots once its session is initialized and whenever they change:
    ``follow`` gets the server's lifespan state and the session, and has the state's Workspace
    :meth:`~Workspace.refresh` (if it has one; once it has, while the server starts)."""

    async def on_roots_changed(ctx: ServerRequestContext[Any, Any], params: NotificationParams) -> None:
        follow(ctx.lifespan_context, ctx.session)

    low = lowlevel(server)
    low.add_notification_handler("notifications/initialized", NotificationParams, on_roots_changed)
    low.add_notification_handler("notifications/roots/list_changed", NotificationParams, on_roots_changed)
