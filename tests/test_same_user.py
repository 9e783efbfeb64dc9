"""The same-user check's kernel look-ups against real loopback connections (no server needed)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_server import same_user
from mcp_server.same_user import Unknown, peer_uid

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="the kernel's socket tables are Linux's")


@pytest.fixture
def connection() -> Iterator[tuple[tuple[str, int], tuple[str, int]]]:
    """(client, server) addresses of a live loopback connection of this user, as the server sees them."""
    with socket.socket() as listening, socket.socket() as client:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        client.connect(listening.getsockname())
        accepted, address = listening.accept()
        with accepted:
            yield address, accepted.getsockname()


def test_a_kernel_without_tcp_diag_does_not_refuse_the_user(
    monkeypatch: pytest.MonkeyPatch, connection: tuple[tuple[str, int], tuple[str, int]]
) -> None:
    """sock_diag answers ENOENT both for "no such socket" and for "no tcp_diag handler" (a kernel built
    without it, or a host where modules cannot be loaded): every question gets it, so taken alone it
    refused the user's own browser on every request. The socket tables tell the two apart."""

    def no_handler(client: tuple[str, int], server: tuple[str, int]) -> int:
        raise Unknown  # what _diag_uid raises for ENOENT

    monkeypatch.setattr(same_user, "_diag_uid", no_handler)
    client, server = connection
    assert peer_uid(client, server) == os.getuid()
    with pytest.raises(Unknown):  # a connection that is gone is still refused
        peer_uid(("127.0.0.1", 1), server)


@pytest.mark.parametrize(
    ("family", "bind", "connect"),
    [
        (socket.AF_INET6, "::1", "::1"),  # a browser's first try for localhost
        (socket.AF_INET6, "::", "127.0.0.1"),  # a dual-stack socket: the server sees ::ffff:127.0.0.1
    ],
)
def test_the_user_is_named_over_ipv6_and_ipv4_mapped_addresses(family: int, bind: str, connect: str) -> None:
    try:
        listening = socket.socket(family)
        listening.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listening.bind((bind, 0))
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with listening, socket.socket(socket.AF_INET6 if ":" in connect else socket.AF_INET) as client:
        listening.listen()
        client.connect((connect, listening.getsockname()[1]))
        accepted, address = listening.accept()
        with accepted:
            assert peer_uid(address[:2], accepted.getsockname()[:2]) == os.getuid()


def _sent_and_closed() -> tuple[socket.socket, socket.socket, tuple[str, int]]:
    """A loopback connection whose client sent a request and closed its socket at once: (listening,
    accepted, client address), the request and the client's FIN read by the server."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    with socket.socket() as client:
        client.connect(listening.getsockname())
        client.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    accepted, address = listening.accept()
    accepted.settimeout(10)
    while accepted.recv(4096):  # up to the FIN: the client's end is now the kernel's remnant
        pass
    return listening, accepted, address


@pytest.mark.parametrize("netlink", [True, False], ids=["sock_diag", "proc-net-tcp"])
async def test_a_request_whose_client_closed_at_once_is_refused_not_served_as_roots(
    netlink: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that sends its request and closes leaves a remnant the kernel reports as uid 0 (no
    process, no inode): taken for root's, another local user's blind POST (a tool call) was served."""
    from mcp_server.same_user import NOBODY, SameUserOnly

    if not netlink:
        monkeypatch.setattr(same_user, "_diag_uid", _no_netlink)
    listening, accepted, address = _sent_and_closed()
    served: list[str] = []
    sent: list[dict[str, object]] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        served.append(str(scope["path"]))

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    with listening, accepted:
        assert peer_uid(address, accepted.getsockname()) == NOBODY
        scope = {"type": "http", "path": "/mcp", "client": address, "server": accepted.getsockname()}
        await SameUserOnly(app)(scope, receive, send)  # type: ignore[arg-type]
    assert served == [] and sent[0]["status"] == 403


def _no_netlink(client: tuple[str, int], server: tuple[str, int]) -> int:
    raise PermissionError("netlink not allowed here")


async def test_the_socket_tables_are_read_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, connection: tuple[tuple[str, int], tuple[str, int]]
) -> None:
    """Where netlink is not allowed every request reads /proc/net/tcp*, whose cost grows with the
    machine's sockets (~9 ms of kernel time here): on the event loop it held up every other request."""
    import threading

    from mcp_server.same_user import SameUserOnly

    monkeypatch.setattr(same_user, "_diag_uid", _no_netlink)
    read_on: list[threading.Thread] = []
    table_uid = same_user._table_uid

    def recorded(client: tuple[str, int], server: tuple[str, int], tables: tuple[Path, ...]) -> int | None:
        read_on.append(threading.current_thread())
        return table_uid(client, server, tables)

    monkeypatch.setattr(same_user, "_table_uid", recorded)
    served: list[str] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        served.append(str(scope["path"]))

    async def unused(*args: object) -> None:
        raise AssertionError("the app answers, not the check")

    client, server = connection
    scope = {"type": "http", "path": "/desk/", "client": client, "server": server}
    await SameUserOnly(app)(scope, unused, unused)  # type: ignore[arg-type]
    assert served == ["/desk/"]
    assert read_on and read_on[0] is not threading.current_thread()
