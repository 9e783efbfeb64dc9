"""Cross-process job notifications over Redis pub/sub: "job X changed, read it again".

Workers publish on every progress update, finish and release; waiters (``wait_for_persona_job``,
``cancel_persona_job``) wake on it instead of hammering SQLite. Pub/sub is fire-and-forget, so a
waiter also re-reads the store at a slow fallback interval, and works (by polling) without Redis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "agent-personas:job:"
FALLBACK_POLL_SECONDS = 1.0
NO_REDIS_POLL_SECONDS = 0.25

Wake = Callable[[float], Awaitable[bool]]
"""Wait up to the given seconds for a notification; True if one came."""


def channel(job_id: str) -> str:
    return CHANNEL_PREFIX + job_id


async def publish(redis: Redis, job_id: str, what: str) -> None:
    """Best effort: a lost notification only delays a waiter until its fallback re-read."""
    try:
        await redis.publish(channel(job_id), what)
    except (OSError, RedisError) as exc:
        log.debug("could not publish %s for job %s: %s", what, job_id, exc)


@asynccontextmanager
async def listen(redis: Redis, job_id: str) -> AsyncIterator[Wake]:
    """Subscribe to a job's notifications; yields ``wake(timeout)``. Subscribe before reading the
    job, so nothing published in between is missed."""
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(channel(job_id))
    except (OSError, RedisError) as exc:
        log.debug("no pub/sub for job %s (%s); polling", job_id, exc)
        with suppress(OSError, RedisError):
            await pubsub.aclose()  # type: ignore[no-untyped-call]

        async def poll(seconds: float) -> bool:
            await asyncio.sleep(min(seconds, NO_REDIS_POLL_SECONDS))
            return False

        yield poll
        return

    async def wake(seconds: float) -> bool:
        seconds = min(seconds, FALLBACK_POLL_SECONDS)
        try:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=seconds)
        except (OSError, RedisError):
            await asyncio.sleep(min(seconds, NO_REDIS_POLL_SECONDS))
            return False
        if message is None:
            return False
        # Drain a burst of progress notifications: one re-read covers them all.
        with suppress(OSError, RedisError):
            while await pubsub.get_message(ignore_subscribe_messages=True, timeout=0) is not None:
                pass
        return True

    try:
        yield wake
    finally:
        with suppress(OSError, RedisError):
            await pubsub.unsubscribe()
        with suppress(OSError, RedisError):
            await pubsub.aclose()  # type: ignore[no-untyped-call]
