"""redis-py connections that never swallow a cancellation, fenced in one module.

On Python 3.11, ``asyncio.wait_for`` returns the inner result when the inner call finishes in the
same loop iteration as the cancellation of the waiting task, and the cancellation is lost
(CPython gh-86296, fixed in 3.12 by rebuilding ``wait_for`` on ``asyncio.timeout``). redis-py 5
sends every command through ``asyncio.wait_for(..., socket_timeout)`` when a socket timeout is set,
so a task cancelled while it talks to Redis can carry on as if nothing happened: measured here,
about half of 200 cancels of a task pinging Redis in a loop were lost. In this project that hung
shutdowns (a supervisor that kept supervising after ``cancel()``) and made a SIGTERM during
start-up do nothing.

:func:`cancel_safe` swaps the connection class of a client's pool for a subclass that notices
the lost cancellation (the task's ``cancelling()`` count went up during the send, yet no
``CancelledError`` came out), drops the connection (a reply may be in flight) and raises
``CancelledError`` itself. ``tests/jobs/test_redis_compat.py`` fails if a redis-py upgrade
changes the pool attribute or the connection classes this relies on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection, UnixDomainSocketConnection

__all__ = ["cancel_safe"]

R = TypeVar("R", bound=Redis)


async def _send_keeping_cancellation(conn: AbstractConnection, send: Awaitable[None]) -> None:
    task = asyncio.current_task()
    requested = task.cancelling() if task is not None else 0
    await send
    if task is not None and task.cancelling() > requested:
        await conn.disconnect(nowait=True)
        raise asyncio.CancelledError


class CancelSafeConnection(Connection):
    async def send_packed_command(self, command: bytes | str | Iterable[bytes], check_health: bool = True) -> None:
        await _send_keeping_cancellation(self, super().send_packed_command(command, check_health))


class CancelSafeSSLConnection(SSLConnection):
    async def send_packed_command(self, command: bytes | str | Iterable[bytes], check_health: bool = True) -> None:
        await _send_keeping_cancellation(self, super().send_packed_command(command, check_health))


class CancelSafeUnixDomainSocketConnection(UnixDomainSocketConnection):
    async def send_packed_command(self, command: bytes | str | Iterable[bytes], check_health: bool = True) -> None:
        await _send_keeping_cancellation(self, super().send_packed_command(command, check_health))


_SAFE: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: CancelSafeConnection,
    SSLConnection: CancelSafeSSLConnection,
    UnixDomainSocketConnection: CancelSafeUnixDomainSocketConnection,
}


def cancel_safe(client: R) -> R:
    """Make ``client`` (before its first command) raise ``CancelledError`` when a cancellation
    arrives while it sends a command, instead of losing it. Returns the same client."""
    pool = client.connection_pool
    current = pool.connection_class
    safe = _SAFE.get(current)
    if safe is None:
        if current in _SAFE.values():
            return client
        raise TypeError(f"cancel_safe: unexpected redis-py connection class {current.__name__}")
    pool.connection_class = safe
    return client
