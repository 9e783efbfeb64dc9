"""Loopback without a token answers only this user: another local account is refused.

127.0.0.1 is reachable by every user of the machine, and a server without a token (``serve --http``
or ``personas desk`` on loopback) would hand them the job history (code), the proposals and the
tools. On Linux the kernel tells who owns the other end of a loopback TCP connection
(``/proc/net/tcp``, ``/proc/net/tcp6``: the client socket's uid), so a request from a socket of
another user is answered 403; root (which can read the data dir anyway) is served. Where that table
does not exist (other systems) or does not list the connection, the request is served as before.
"""

from __future__ import annotations

import ipaddress
import os
import struct
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_REFUSED = (
    b'{"error": "this server answers only the local user who started it; set PERSONAS_HTTP_TOKEN on the server '
    b'to share it with others"}'
)


def _address(field: str) -> tuple[str, int] | None:
    """``(ip, port)`` of a ``/proc/net/tcp*`` address field (each 32-bit word in host byte order)."""
    hexed, _, port = field.partition(":")
    try:
        raw = b"".join(struct.pack("=I", int(hexed[i : i + 8], 16)) for i in range(0, len(hexed), 8))
        ip = ipaddress.ip_address(raw)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return str(ip), int(port, 16)
    except ValueError:
        return None


def _normal(host: str) -> str:
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def peer_uid(
    client: tuple[str, int] | None, server: tuple[str, int] | None, tables: tuple[Path, ...] = TABLES
) -> int | None:
    """The uid owning the client end of this TCP connection, or None when the kernel's tables do not say."""
    if not client or not server:
        return None
    want_local = (_normal(str(client[0])), int(client[1]))
    want_remote = (_normal(str(server[0])), int(server[1]))
    for table in tables:
        try:
            lines = table.read_text(encoding="ascii", errors="replace").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 8:
                continue
            if _address(fields[1]) == want_local and _address(fields[2]) == want_remote:
                try:
                    return int(fields[7])
                except ValueError:
                    return None
    return None


class SameUserOnly:
    """ASGI middleware answering 403 to a connection whose client socket belongs to another user."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._uid = os.getuid() if hasattr(os, "getuid") else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self._uid is not None:
            uid = peer_uid(scope.get("client"), scope.get("server"))
            if uid is not None and uid not in (self._uid, 0):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await send(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": _REFUSED})
                return
        await self.app(scope, receive, send)
