"""Client side of the job queue: connect to Redis, enqueue persona jobs with a priority."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from redis.exceptions import RedisError

from worker.models import Priority

QUEUE_NAME = "agent-personas:queue"
RUN_FUNCTION = "run_persona_job"

# arq orders a queue by score (ms) and starts jobs whose score is due. Shifting the score back
# by a fixed offset per priority level makes high jobs start before normal and normal before low,
# FIFO within a level, across every worker on the queue. A job that has waited longer than one
# offset (6 h) overtakes newer higher-priority jobs, so nothing starves.
PRIORITY_OFFSET_SECONDS: dict[Priority, float] = {"high": 12 * 3600.0, "normal": 6 * 3600.0, "low": 0.0}


class QueueUnavailableError(RuntimeError):
    """Redis cannot be reached; the message says where and what to do."""


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 1
    settings.conn_retry_delay = 0
    return settings


def describe_redis(url: str) -> str:
    settings = RedisSettings.from_dsn(url)
    if settings.unix_socket_path:
        return f"unix socket {settings.unix_socket_path}"
    return f"{settings.host}:{settings.port}"


@asynccontextmanager
async def open_pool(url: str) -> AsyncIterator[ArqRedis]:
    try:
        pool = await create_pool(redis_settings(url), default_queue_name=QUEUE_NAME)
    except (OSError, RedisError) as exc:
        raise QueueUnavailableError(
            f"Cannot reach Redis at {describe_redis(url)} ({exc}). Start Redis there, fix REDIS_URL, "
            "or unset REDIS_URL to let the server run its own."
        ) from exc
    try:
        yield pool
    finally:
        await pool.aclose()


class JobQueue:
    """Enqueue persona jobs. Jobs cross Redis as a plain job id; the record lives in SQLite."""

    def __init__(self, pool: ArqRedis, url: str) -> None:
        self.pool = pool
        self.url = url

    async def enqueue(self, job_id: str, priority: Priority) -> None:
        due = time.time() - PRIORITY_OFFSET_SECONDS[priority]
        try:
            await self.pool.enqueue_job(
                RUN_FUNCTION,
                job_id,
                _job_id=job_id,
                _queue_name=QUEUE_NAME,
                _defer_until=datetime.fromtimestamp(due, tz=UTC),
                _expires=24 * 3600,
            )
        except (OSError, RedisError) as exc:
            raise QueueUnavailableError(
                f"The job queue is unavailable: cannot reach Redis at {describe_redis(self.url)} ({exc}). "
                "Check that Redis is running, then invoke the persona again."
            ) from exc
