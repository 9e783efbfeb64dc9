"""Loopback without a token answers only this user: another local account is refused.

127.0.0.1 is reachable by every user of the machine, and a server without a token (``serve --http``
or ``personas desk`` on loopback) would hand them the job history (code), the proposals and the
tools. On Linux the kernel tells who owns the other end of a loopback TCP connection: asked by its
exact addresses over netlink (``sock_diag``, what ``ss`` uses; ~20 µs of CPU), or, where that is not
allowed or answers "no such socket" (ENOENT, also what a kernel without ``tcp_diag`` answers to
everything), from ``/proc/net/tcp`` (a scan, ~4-9 ms of kernel time, growing with the machine's
sockets: on a thread, not the event loop). A connection of another user is answered 403, and so is
one the kernel no longer knows or no process holds (a client that sent its request and reset or
closed the connection at once must not slip through: a closed one's remnant reads as uid 0); root
(which can read the data dir anyway) is served. Where neither source exists (other systems) the
request is served as before.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import struct
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_REFUSED = (
    b'{"error": "this server answers only the local user who started it; set PERSONAS_HTTP_TOKEN on the server '
    b'to share it with others"}'
)
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_ENOENT = 2
#: The uid of a connection no process holds any more: its client closed it after sending (the kernel
#: keeps a "time-wait" remnant with uid 0 and no inode, which must not pass for root's).
NOBODY = -1
#: Where idiag_uid (then idiag_inode) sits in a reply: the 16-byte nlmsghdr, then inet_diag_msg's family, state, timer,
#: retrans (4), sockid (48), expires, rqueue and wqueue (12).
_UID_OFFSET = 16 + 64


class Unknown(Exception):
    """The kernel was asked and knows no such connection (it is gone)."""


def _address(field: str) -> tuple[str, int] | None:
    """``(ip, port)`` of a ``/proc/net/tcp*`` address field (each 32-bit word in host byte order)."""
    hexed, _, port = field.partition(":")
    try:
        raw = b"".join(struct.pack("=I", int(hexed[i : i + 8], 16)) for i in range(0, len(hexed), 8))
        return _normal(str(ipaddress.ip_address(raw))), int(port, 16)
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


def _diag_uid(client: tuple[str, int], server: tuple[str, int]) -> int:
    """The uid of the TCP socket at ``client`` connected to ``server``, asked over netlink sock_diag.
    Raises :class:`Unknown` when there is no such socket, OSError when the kernel cannot be asked."""
    ours, theirs = ipaddress.ip_address(client[0]), ipaddress.ip_address(server[0])
    if ours.version != theirs.version:
        raise OSError("mixed address families")
    family = socket.AF_INET if ours.version == 4 else socket.AF_INET6
    sockid = (
        struct.pack("!HH", client[1], server[1])
        + ours.packed.ljust(16, b"\0")
        + theirs.packed.ljust(16, b"\0")
        + struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF)  # any interface, no cookie
    )
    request = struct.pack("=BBBxI", family, socket.IPPROTO_TCP, 0, 0xFFFFFFFF) + sockid
    header = struct.pack("=IHHII", 16 + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as link:
        link.settimeout(1.0)
        link.send(header + request)
        reply = link.recv(8192)
    kind = struct.unpack_from("=H", reply, 4)[0]
    if kind == _NLMSG_ERROR:
        code = -int(struct.unpack_from("=i", reply, 16)[0])
        if code == _ENOENT:
            raise Unknown
        raise OSError(code, os.strerror(code))
    if kind != _SOCK_DIAG_BY_FAMILY or len(reply) < _UID_OFFSET + 8:
        raise OSError("unexpected sock_diag reply")
    uid, inode = struct.unpack_from("=II", reply, _UID_OFFSET)
    return int(uid) if inode else NOBODY


def _table_uid(client: tuple[str, int], server: tuple[str, int], tables: tuple[Path, ...]) -> int | None:
    """The uid from ``/proc/net/tcp*``; :class:`Unknown` when they list the server's own sockets but not
    this client's; None when they cannot tell (missing, or a sandbox's tables without our sockets)."""
    lists_server = False
    for table in tables:
        try:
            lines = table.read_text(encoding="ascii", errors="replace").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local = _address(fields[1])
            lists_server = lists_server or local == server
            if local == client and _address(fields[2]) == server:
                try:
                    return int(fields[7]) if int(fields[9]) else NOBODY
                except ValueError:
                    return None
    if lists_server:
        raise Unknown
    return None


def peer_uid(
    client: tuple[str, int] | None, server: tuple[str, int] | None, tables: tuple[Path, ...] = TABLES
) -> int | None:
    """The uid owning the client end of this TCP connection (:data:`NOBODY` once its client closed it);
    None when the kernel cannot be asked (not Linux, no addresses). Raises :class:`Unknown` when the
    kernel knows no such connection."""
    if (pair := _pair(client, server)) is None:
        return None
    uid = _netlink_uid(*pair)
    return uid if uid is not None else _table_uid(*pair, tables)


def _pair(
    client: tuple[str, int] | None, server: tuple[str, int] | None
) -> tuple[tuple[str, int], tuple[str, int]] | None:
    if not client or not server:
        return None
    return (_normal(str(client[0])), int(client[1])), (_normal(str(server[0])), int(server[1]))


def _netlink_uid(client: tuple[str, int], server: tuple[str, int]) -> int | None:
    """:func:`_diag_uid`, or None when the tables must tell: netlink is not allowed here (a sandbox), or
    it answered ENOENT, which is also every answer of a kernel without tcp_diag (not built, or its module
    cannot be loaded); the tables tell a gone connection (they list the server) from that."""
    if not hasattr(socket, "AF_NETLINK"):
        return None
    try:
        return _diag_uid(client, server)
    except (OSError, ValueError, Unknown):
        return None


async def _peer_uid_async(client: tuple[str, int] | None, server: tuple[str, int] | None) -> int | None:
    """:func:`peer_uid` for the event loop: the tables' scan (milliseconds of kernel time, growing with
    the machine's sockets) runs on a thread; the netlink question (microseconds) does not."""
    if (pair := _pair(client, server)) is None:
        return None
    uid = _netlink_uid(*pair)
    return uid if uid is not None else await asyncio.to_thread(_table_uid, *pair, TABLES)


class SameUserOnly:
    """ASGI middleware answering 403 to a connection whose client socket belongs to another user."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._uid = os.getuid() if hasattr(os, "getuid") else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self._uid is not None:
            try:
                uid = await _peer_uid_async(scope.get("client"), scope.get("server"))
            except Unknown:
                uid = -1  # gone before it was checked: refused
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
