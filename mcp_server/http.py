"""Streamable HTTP transport: loopback by default; any other bind address needs a bearer token.

Rules (also in the README's security section):
- binding anywhere but 127.0.0.1, ::1 or localhost needs ``PERSONAS_HTTP_TOKEN``;
- a token, when set, must be at least :data:`MIN_TOKEN_LENGTH` characters;
- DNS-rebinding protection (Host/Origin checks) covers the bound host: requests must name it
  (or a loopback name when bound to loopback). A wildcard bind (0.0.0.0, ::) cannot know its
  names, so there the token alone guards it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import ipaddress
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from mcp_server.desk.state import StateRef

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 32
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")
WILDCARDS = ("0.0.0.0", "::", "")


class HttpConfigError(ValueError):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BearerTokenMiddleware:
    """Reject every HTTP request without ``Authorization: Bearer <token>`` (constant-time check)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = b'{"error": "missing or wrong bearer token: send Authorization: Bearer $PERSONAS_HTTP_TOKEN"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def needs_token(host: str) -> bool:
    return host.strip("[]") not in LOOPBACK_NAMES


def check_bind(host: str, token: str | None) -> None:
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise HttpConfigError(
            f"PERSONAS_HTTP_TOKEN is {len(token)} characters; use at least {MIN_TOKEN_LENGTH} random characters, "
            "e.g. export PERSONAS_HTTP_TOKEN=$(openssl rand -hex 32)"
        )
    if token is None and needs_token(host):
        raise HttpConfigError(
            f"Refusing to serve HTTP on {host} without a token: only 127.0.0.1, ::1 and localhost are served "
            "without one. Set PERSONAS_HTTP_TOKEN (export PERSONAS_HTTP_TOKEN=$(openssl rand -hex 32); clients "
            "send 'Authorization: Bearer <token>'), or bind to 127.0.0.1."
        )


def transport_security(host: str) -> TransportSecuritySettings | None:
    """Host/Origin checks that accept the bound host (and the loopback names when it is loopback)."""
    bare = host.strip("[]")
    if bare in WILDCARDS:
        return None  # any of the machine's names may be used: the bearer token guards it
    try:
        literal = f"[{bare}]" if ipaddress.ip_address(bare).version == 6 else bare
    except ValueError:
        literal = bare
    names = [literal]
    if is_loopback(bare):
        names += [n for n in ("127.0.0.1", "localhost", "[::1]") if n != literal]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{n}:*" for n in names] + names,
        allowed_origins=[f"http://{n}:*" for n in names] + [f"http://{n}" for n in names],
    )


REMOTE_CLIENTS_MAX_BODY_BYTES = 24 * 1024 * 1024
"""Request body cap of a server for remote clients: their files (5 MB) and diff (2 MB), JSON-escaped.
Other servers keep the SDK's 4 MiB."""


def http_app(
    server: MCPServer[Any],
    *,
    host: str,
    token: str | None,
    desk: StateRef | None = None,
    remote_clients: bool = False,
) -> ASGIApp:
    """The MCP app at ``/mcp`` (bearer token when set) and, given the server's state, the desk at ``/desk``."""
    check_bind(host, token)
    app: ASGIApp = server.streamable_http_app(
        host=host,
        transport_security=transport_security(host),
        max_request_body_size=REMOTE_CLIENTS_MAX_BODY_BYTES if remote_clients else DEFAULT_MAX_REQUEST_BODY_SIZE,
    )
    if token:
        app = BearerTokenMiddleware(app, token)
    if desk is not None:
        from mcp_server.desk.serve import mount_desk

        app = mount_desk(app, desk, host=host, token=token)
    if token is None:  # loopback: every local user reaches it, so only ours is answered
        from mcp_server.same_user import SameUserOnly

        app = SameUserOnly(app)
    return app


#: Seconds a stopping server waits for requests in flight (a review being submitted, an open event
#: stream) before it cancels them and closes its resources.
SHUTDOWN_GRACE_SECONDS = 5


async def serve_http(
    server: MCPServer[Any],
    *,
    host: str,
    port: int,
    token: str | None,
    desk: StateRef | None = None,
    remote_clients: bool = False,
    stop: asyncio.Event,
) -> None:
    """Serve until ``stop`` is set, then shut down as :func:`serve_until` says (the app's lifespan
    shutdown closes the server's resources in order)."""
    app = http_app(server, host=host, token=token, desk=desk, remote_clients=remote_clients)
    sock = listening_socket(host, port)  # before the log line and the lifespan: a taken port opens nothing
    web = web_server(app, host=host, port=port, lifespan="on")
    log.info(
        "serving MCP over streamable HTTP at http://%s:%d/mcp%s",
        host,
        port,
        " (bearer token)" if token else "",
    )
    await serve_until(web, stop, sockets=[sock])
    log.info("HTTP server stopped")


class BindError(HttpConfigError):
    """The address cannot be listened on (port taken, not permitted, no such address)."""


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind ``host:port`` the way uvicorn does, but fail with a :class:`BindError` saying what to do
    (uvicorn logs the error and calls ``sys.exit``: a traceback through our command)."""
    sock = socket.socket(family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BindError(f"cannot listen on {host}:{port}: {exc.strerror or exc}. {_bind_fix(exc, host)}") from exc
    sock.set_inheritable(True)
    return sock


def _bind_fix(exc: OSError, host: str) -> str:
    """What to do about a failed bind, by its cause."""
    if exc.errno == errno.EADDRINUSE:
        return "Stop what uses that port or pick another with --port."
    if exc.errno == errno.EACCES:
        return "Ports below 1024 need root: pick another with --port."
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return f"{host} is not an address of this machine: pick one it has with --host (e.g. 127.0.0.1)."
    return "Pick another --host or --port."


def web_server(app: ASGIApp, *, host: str, port: int, lifespan: Literal["on", "off"]) -> uvicorn.Server:
    """A uvicorn server for ``app`` (``serve --http``, ``desk``) that gives requests in flight
    :data:`SHUTDOWN_GRACE_SECONDS` when it stops, and leaves the signals to the command
    (:class:`CommandStopsIt`)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan=lifespan,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        # The client is the socket's peer, never X-Forwarded-For: uvicorn trusts that header from
        # 127.0.0.1 by default, and another local user named the port of the owner's open connection
        # in it ('127.0.0.1:PORT', listed in /proc/net/tcp), which the same-user check then asked about.
        proxy_headers=False,
    )
    return CommandStopsIt(config)


class CommandStopsIt(uvicorn.Server):
    """uvicorn's server without its own SIGINT/SIGTERM handling: the command's handlers
    (:mod:`mcp_server.stopping`) tell it to stop (:func:`serve_until`). uvicorn's would see every
    signal as well and raise it again once stopped, which the command would take for a second
    signal ("stop now, without waiting")."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_until(web: uvicorn.Server, stop: asyncio.Event, sockets: list[socket.socket] | None = None) -> None:
    """Serve until ``stop`` is set, then shut down the way uvicorn does: stop listening, let requests
    in flight finish (at most :data:`SHUTDOWN_GRACE_SECONDS`), then run the app's lifespan shutdown,
    if any. Cancelling this coroutine instead would cut the shutdown short (and a caller's resources
    would close under requests still running) and uvicorn would log its ``CancelledError``."""
    stopper = asyncio.create_task(_exit_when_set(web, stop), name="http-stop")
    try:
        await web.serve(sockets=sockets)
    finally:
        stopper.cancel()


async def _exit_when_set(web: uvicorn.Server, stop: asyncio.Event) -> None:
    await stop.wait()
    web.should_exit = True
