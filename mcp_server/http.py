"""Streamable HTTP transport: loopback by default; any other bind address needs a bearer token."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import TYPE_CHECKING, Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from mcp_server.desk.serve import StateRef

log = logging.getLogger(__name__)


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


def check_bind(host: str, token: str | None) -> None:
    if token is None and not is_loopback(host):
        raise HttpConfigError(
            f"Refusing to serve HTTP on {host} without a token: set PERSONAS_HTTP_TOKEN to a long random "
            "string (clients send it as 'Authorization: Bearer <token>'), or bind to 127.0.0.1."
        )


def http_app(server: MCPServer[Any], *, host: str, token: str | None, desk: StateRef | None = None) -> ASGIApp:
    """The MCP app at ``/mcp`` (bearer token when set) and, given the server's state, the desk at ``/desk``."""
    check_bind(host, token)
    app: ASGIApp = server.streamable_http_app(host=host)
    if token:
        app = BearerTokenMiddleware(app, token)
    if desk is not None:
        from mcp_server.desk.serve import mount_desk

        app = mount_desk(app, desk, host=host, token=token)
    return app


async def serve_http(
    server: MCPServer[Any], *, host: str, port: int, token: str | None, desk: StateRef | None = None
) -> None:
    app = http_app(server, host=host, token=token, desk=desk)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    log.info(
        "serving MCP over streamable HTTP at http://%s:%d/mcp%s",
        host,
        port,
        " (bearer token)" if token else "",
    )
    await uvicorn.Server(config).serve()
