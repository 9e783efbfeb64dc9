"""Everything we rely on inside arq that its public API does not promise, fenced in one module.

Each item has a test in ``tests/jobs/test_arq_compat.py`` that fails if an arq upgrade changes it;
``pyproject.toml`` pins arq to the range those tests passed on.

- **JSON payloads** (:func:`dumps`, :func:`loads`, passed as ``job_serializer``/``job_deserializer``
  to every ``ArqRedis`` and ``Worker``): arq pickles job payloads
  by default, so anyone who can write a queue entry runs code in the worker. Ours cross Redis as
  JSON; a payload that is not a JSON object (e.g. a pickle) fails the job without running anything.
- **Redis keys**: the queue is a sorted set scored by due time in ms; a job's payload lives at
  ``arq:job:<id>``, a running job's claim at ``arq:in-progress:<id>``, abort requests in the
  ``arq:abort`` sorted set. :func:`due_score` and the key helpers are the only code that knows it.
- **Priority as score**: arq starts due jobs lowest score first, so shifting the score back per
  priority orders the queue (:func:`due_score`).
- **Closing a worker** (:func:`close_worker`): arq's ``close`` can stop half-way, or wait on a Redis
  that stopped answering for ever; ours always ends, each wait bounded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from arq import Worker
from arq.constants import abort_jobs_ss, in_progress_key_prefix, job_key_prefix
from redis.exceptions import RedisError

__all__ = [
    "ABORT_SET",
    "close_worker",
    "due_score",
    "dumps",
    "in_progress_key",
    "job_key",
    "loads",
    "score_datetime",
]

log = logging.getLogger(__name__)

ABORT_SET: str = abort_jobs_ss


def job_key(queue_job_id: str) -> str:
    return job_key_prefix + queue_job_id


def in_progress_key(queue_job_id: str) -> str:
    return in_progress_key_prefix + queue_job_id


# ---- JSON payloads ----------------------------------------------------------------------------


def _plain(value: object) -> object:
    """What json cannot encode: an exception (a failed job's result) becomes its text."""
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}" if str(value) else type(value).__name__
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return repr(value)


def dumps(data: dict[str, Any]) -> bytes:
    """arq ``job_serializer``: job payloads and results as compact JSON."""
    return json.dumps(data, default=_plain, separators=(",", ":")).encode()


def loads(raw: bytes) -> dict[str, Any]:
    """arq ``job_deserializer``: JSON only. Anything else raises, and arq fails the job unrun."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError(f"a queue payload must be a JSON object, got {type(data).__name__}")
    return data


# ---- priority as score -------------------------------------------------------------------------


def due_score(since_seconds: float, offset_seconds: float) -> int:
    """The queue score (ms) of a job that became due at ``since_seconds`` (epoch), shifted back by
    its priority offset: arq starts the lowest due score first."""
    return int(since_seconds * 1000) - int(offset_seconds * 1000)


def score_datetime(score_ms: int) -> datetime:
    """``_defer_until`` for ``enqueue_job`` that arq turns back into exactly ``score_ms``."""
    return datetime.fromtimestamp(score_ms / 1000, tz=UTC)


# ---- closing a worker --------------------------------------------------------------------------


#: Seconds a closing worker waits for its cancelled jobs to hand themselves back, and then for Redis to
#: answer a command. arq's connections have no read timeout: a Redis that stopped answering (hung,
#: paused, a network partition) would otherwise hold the worker's stop for ever.
CLOSE_WAIT_SECONDS = 5.0


async def close_worker(worker: Worker, on_shutdown: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    """arq's ``Worker.close``, made to always finish, within bounds: arq gathers the job tasks it just
    cancelled without ``return_exceptions``, so one that ends cancelled (cancelled while awaiting its
    shielded finish_job) aborts the close before the pool is closed, and Redis being down does too;
    and it waits on Redis without a bound (:data:`CLOSE_WAIT_SECONDS`)."""
    if not worker._handle_signals:
        worker.handle_sig(signal.SIGUSR1)  # cancels the main task and the running jobs
    pool = worker._pool
    if pool is None:
        return
    await _ended(list(worker.tasks.values()))
    # arq does not await its main task, and finish_job runs shielded (detached) when its job
    # was cancelled while finishing: let them end before the connections close.
    leftovers = [t for t in asyncio.all_tasks() if not t.done() and belongs_to(t, worker)]
    if leftovers:
        await asyncio.wait(leftovers, timeout=CLOSE_WAIT_SECONDS)
    try:
        async with asyncio.timeout(CLOSE_WAIT_SECONDS):
            await pool.delete(worker.health_check_key)
    except TimeoutError:
        log.warning(
            "worker: Redis did not answer within %g s while the worker stopped; not waiting for it", CLOSE_WAIT_SECONDS
        )
    except (OSError, RedisError):
        pass  # Redis is down: nothing to clean up there
    await on_shutdown(worker.ctx)
    with suppress(OSError, RedisError):
        await pool.aclose()
    worker._pool = None


async def _ended(tasks: list[asyncio.Task[Any]]) -> None:
    """Wait for ``tasks`` (cancelled jobs handing themselves back) for :data:`CLOSE_WAIT_SECONDS`;
    cancel those still waiting then (on Redis, for a job's last messages), wait as long again, and
    cancel those left once more: that ends them."""
    if not tasks:
        return
    _, waiting = await asyncio.wait(tasks, timeout=CLOSE_WAIT_SECONDS)
    if waiting:
        log.warning(
            "worker: %d stopped job(s) still waiting on Redis after %g s; not waiting for it",
            len(waiting),
            CLOSE_WAIT_SECONDS,
        )
    for task in waiting:
        task.cancel()
    # arq catches that cancellation and then waits, shielded, on Redis to finish the job: bounded too.
    # Cancelled again there, a task ends (the shield's inner call goes on, detached: close_worker's
    # leftovers).
    if waiting:
        _, waiting = await asyncio.wait(waiting, timeout=CLOSE_WAIT_SECONDS)
    for task in waiting:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def belongs_to(task: asyncio.Task[Any], worker: Worker) -> bool:
    """Is ``task`` running a coroutine method of ``worker`` (run_job, finish_job, main, ...)?
    Reads the coroutine's frame: arq keeps no list of the tasks it detaches."""
    frame = getattr(task.get_coro(), "cr_frame", None)
    return frame is not None and frame.f_locals.get("self") is worker and task is not asyncio.current_task()
