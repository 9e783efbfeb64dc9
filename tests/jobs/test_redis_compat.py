"""What we rely on inside redis-py (worker/redis_compat.py): a task cancelled while it talks to
Redis is cancelled for good. Fails if a redis-py upgrade moves what the fence swaps."""

from __future__ import annotations

import asyncio
import inspect
import random

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection, UnixDomainSocketConnection

from worker.queue import make_pool
from worker.redis_compat import cancel_safe

CANCELS = 200


async def _cancels_lost(client: Redis) -> int:
    """Cancel a task that pings Redis in a loop ``CANCELS`` times, at spread-out moments; count the
    cancels after which the task carried on (it finished two more pings instead of ending)."""
    pings = 0
    progressed = asyncio.Event()

    async def pinging() -> None:
        nonlocal pings
        while True:
            await client.ping()
            pings += 1
            progressed.set()

    rng = random.Random(11)
    lost = 0
    for _ in range(CANCELS):
        task = asyncio.create_task(pinging())
        await asyncio.sleep(rng.random() * 0.005)
        task.cancel()
        seen = pings
        while not task.done() and pings < seen + 2:
            progressed.clear()
            # Generous bound: each wake-up is an outcome (the task ended, or pinged again).
            waiter = asyncio.ensure_future(progressed.wait())
            await asyncio.wait({task, waiter}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        if not task.done():
            lost += 1
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=1)
    return lost


async def test_a_task_cancelled_while_it_talks_to_redis_stays_cancelled(redis_url: str) -> None:
    pool = make_pool(redis_url)
    try:
        assert await _cancels_lost(pool) == 0
        assert await pool.ping()  # a connection dropped on a cancel does not break the client
    finally:
        await pool.aclose()


async def test_a_plain_client_with_a_socket_timeout_is_made_safe_too(redis_url: str) -> None:
    client = cancel_safe(Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2))
    try:
        assert await _cancels_lost(client) == 0
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("url", "stock"),
    [
        ("redis://127.0.0.1:6379/0", Connection),
        ("rediss://127.0.0.1:6380/0", SSLConnection),
        ("unix:///tmp/personas-compat.sock", UnixDomainSocketConnection),
    ],
)
def test_the_fence_swaps_every_connection_class_redis_py_picks(url: str, stock: type[AbstractConnection]) -> None:
    client = Redis.from_url(url)
    assert client.connection_pool.connection_class is stock  # what redis-py picks for this URL
    cancel_safe(client)
    safe = client.connection_pool.connection_class
    assert issubclass(safe, stock) and safe is not stock
    assert isinstance(client.connection_pool.make_connection(), safe)  # the pool builds from the attribute
    assert cancel_safe(client).connection_pool.connection_class is safe  # idempotent
    # The method we override still has the signature we call.
    assert list(inspect.signature(stock.send_packed_command).parameters) == ["self", "command", "check_health"]
