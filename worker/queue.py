"""Client side of the job queue: connect to Redis, enqueue persona jobs with a priority, abort them.

A job crosses Redis as its job id only, in a JSON payload (never pickle: see worker/arq_compat.py);
the record lives in SQLite. The arq job id of a delivery is
the job id itself, or ``<job id>:r<n>`` / ``<job id>:q<n>`` when the job was put back on the queue
(worker died, queue entry lost), so a stale delivery and a new one never collide in arq.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from arq.connections import ArqRedis, RedisSettings
from redis.exceptions import RedisError

from worker.arq_compat import ABORT_SET, due_score, dumps, in_progress_key, job_key, loads, score_datetime
from worker.errors import QueueUnavailableError
from worker.models import Priority
from worker.redis_compat import cancel_safe

StopOutcome = Literal["removed", "aborted", "absent"]

log = logging.getLogger(__name__)

QUEUE_NAME = "agent-personas:queue"
RUN_FUNCTION = "run_persona_job"

# arq orders a queue by score (ms) and starts jobs whose score is due. Shifting the score back
# by a fixed offset per priority level makes high jobs start before normal and normal before low,
# FIFO within a level, across every worker on the queue. A job that has waited longer than one
# offset (6 h) overtakes newer higher-priority jobs, so nothing starves.
PRIORITY_OFFSET_SECONDS: dict[Priority, float] = {"high": 12 * 3600.0, "normal": 6 * 3600.0, "low": 0.0}


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 1
    settings.conn_retry_delay = 0
    return settings


def redact(url: str) -> str:
    """``url`` without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def describe_redis(url: str) -> str:
    settings = RedisSettings.from_dsn(url)
    if settings.unix_socket_path:
        return f"unix socket {settings.unix_socket_path}"
    return f"{settings.host}:{settings.port}"


def make_pool(url: str) -> ArqRedis:
    """An arq Redis client that connects lazily: commands fail fast (2 s connect timeout) while
    Redis is down and work again, without a restart, once it is back. A task cancelled while it
    talks to Redis is cancelled for good (:mod:`worker.redis_compat`)."""
    s = redis_settings(url)
    pool = ArqRedis(
        host=s.host,
        port=s.port,
        unix_socket_path=s.unix_socket_path,
        db=s.database,
        username=s.username,
        password=s.password,
        ssl=s.ssl,
        socket_connect_timeout=s.conn_timeout,
        socket_timeout=10,
        encoding="utf8",
        default_queue_name=QUEUE_NAME,
        job_serializer=dumps,
        job_deserializer=loads,
    )
    return cancel_safe(pool)


@asynccontextmanager
async def open_pool(url: str) -> AsyncIterator[ArqRedis]:
    """The server's Redis client. Redis being down is not fatal: the server starts, invoke_* says
    that the queue is unavailable, and everything recovers when Redis is back."""
    pool = make_pool(url)
    try:
        await pool.ping()
    except (OSError, RedisError) as exc:
        log.warning(
            "Redis at %s is not reachable (%s); persona jobs cannot start until it is.",
            describe_redis(url),
            exc,
        )
    try:
        yield pool
    finally:
        await pool.aclose()


def queue_unavailable(url: str, exc: BaseException, *, embedded: bool = False) -> QueueUnavailableError:
    if embedded:
        return QueueUnavailableError(
            f"The job queue is unavailable: the server's own Redis ({describe_redis(url)}) is not answering "
            f"({exc}). The server restarts it by itself: invoke the persona again in a few seconds. If this "
            "keeps happening, run `personas doctor`, or set REDIS_URL to a Redis you run."
        )
    return QueueUnavailableError(
        f"The job queue is unavailable: cannot reach Redis at {describe_redis(url)} ({exc}). "
        "Start Redis there, fix REDIS_URL, or unset REDIS_URL to let the server run its own; then invoke "
        "the persona again."
    )


class JobQueue:
    """Enqueue, abort and inspect persona job deliveries in arq's Redis structures."""

    def __init__(self, pool: ArqRedis, url: str, *, embedded: bool = False) -> None:
        self.pool = pool
        self.url = url
        self.embedded = embedded
        self._last_due_ms: dict[Priority, int] = {}

    def unavailable(self, exc: BaseException) -> QueueUnavailableError:
        return queue_unavailable(self.url, exc, embedded=self.embedded)

    async def enqueue(
        self, job_id: str, priority: Priority, *, queue_job_id: str | None = None, since: float | None = None
    ) -> None:
        """Put a job on the queue. ``since`` is when a re-queued job first started waiting: it keeps
        its place among jobs of its priority. New jobs (no ``since``) get strictly increasing scores
        per priority, so two submitted in the same millisecond still run in submission order (arq
        scores are milliseconds and ties would be broken by job id)."""
        offset = PRIORITY_OFFSET_SECONDS[priority]
        if since is None:
            due_ms = due_score(time.time(), offset)
            due_ms = max(due_ms, self._last_due_ms.get(priority, due_ms - 1) + 1)
            self._last_due_ms[priority] = due_ms
        else:
            due_ms = due_score(since, offset)
        try:
            await self.pool.enqueue_job(
                RUN_FUNCTION,
                job_id,
                _job_id=queue_job_id or job_id,
                _queue_name=QUEUE_NAME,
                _defer_until=score_datetime(due_ms),
                _expires=24 * 3600,
            )
        except (OSError, RedisError) as exc:
            raise self.unavailable(exc) from exc

    async def stop(self, queue_job_id: str) -> StopOutcome:
        """Stop a delivery: take it off the queue if no worker started it ("removed"), else ask the
        worker running it to cancel it ("aborted": arq abort, seen at the worker's next poll), or
        "absent" when Redis no longer knows it."""
        try:
            async with self.pool.pipeline(transaction=True) as tr:
                tr.zrem(QUEUE_NAME, queue_job_id)
                tr.exists(in_progress_key(queue_job_id))
                removed, running = await tr.execute()
            if running:
                await self.pool.zadd(ABORT_SET, {queue_job_id: int(time.time() * 1000)})
                return "aborted"
            if removed:
                await self.pool.delete(job_key(queue_job_id))
                return "removed"
            return "absent"
        except (OSError, RedisError) as exc:
            raise self.unavailable(exc) from exc

    async def discard(self, queue_job_id: str) -> None:
        """Forget a dead worker's delivery, so arq never re-delivers it."""
        async with self.pool.pipeline(transaction=True) as tr:
            tr.zrem(QUEUE_NAME, queue_job_id)
            tr.delete(job_key(queue_job_id), in_progress_key(queue_job_id))
            await tr.execute()

    async def waiting(self, queue_job_ids: Sequence[str]) -> list[bool]:
        """For each delivery: is it on the queue and not claimed by a worker's in-progress key?"""
        if not queue_job_ids:
            return []
        async with self.pool.pipeline(transaction=False) as pipe:
            for qid in queue_job_ids:
                pipe.zscore(QUEUE_NAME, qid)
                pipe.exists(in_progress_key(qid))
            replies = await pipe.execute()
        return [replies[i] is not None and not replies[i + 1] for i in range(0, len(replies), 2)]
