"""What we rely on inside arq (worker/arq_compat.py). Each test fails if an arq upgrade changes it;
pyproject.toml pins arq to the range these pass on."""

from __future__ import annotations

import asyncio
import json
import pickle
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from arq import Worker
from arq.connections import ArqRedis
from arq.jobs import DeserializationError, deserialize_job_raw, serialize_job, serialize_result
from arq.worker import func

from tests.conftest import wait_for
from worker import arq_compat
from worker.queue import make_pool, redis_settings

QUEUE = "compat:queue"


def _make_worker(redis_url: str, *functions: Any, burst: bool = False) -> Worker:
    return Worker(
        functions=[func(f, name=f.__name__) for f in functions],
        queue_name=QUEUE,
        redis_settings=redis_settings(redis_url),
        max_jobs=1,
        poll_delay=0.01,
        burst=burst,
        handle_signals=False,
        allow_abort_jobs=True,
        keep_result=60,
        job_serializer=arq_compat.dumps,
        job_deserializer=arq_compat.loads,
    )


@asynccontextmanager
async def _worker(redis_url: str, *functions: Any) -> AsyncIterator[Worker]:
    worker = _make_worker(redis_url, *functions)
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        await arq_compat.close_worker(worker, _no_shutdown)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _no_shutdown(ctx: dict[str, Any]) -> None:
    return None


@pytest.fixture
async def pool(redis_url: str) -> AsyncIterator[ArqRedis]:
    client = make_pool(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def test_payload_layout_and_json_round_trip() -> None:
    raw = serialize_job("run", ("job-1",), {}, 1, 1234, serializer=arq_compat.dumps)
    assert json.loads(raw) == {"t": 1, "f": "run", "a": ["job-1"], "k": {}, "et": 1234}
    function, args, kwargs, job_try, enqueued_ms = deserialize_job_raw(raw, deserializer=arq_compat.loads)
    assert (function, list(args), kwargs, job_try, enqueued_ms) == ("run", ["job-1"], {}, 1, 1234)


def test_a_non_json_payload_is_a_deserialization_error_not_code() -> None:
    with pytest.raises(DeserializationError):
        deserialize_job_raw(pickle.dumps({"f": "run"}), deserializer=arq_compat.loads)
    with pytest.raises(DeserializationError):
        deserialize_job_raw(b"[1, 2]", deserializer=arq_compat.loads)


def test_a_failed_jobs_exception_result_serializes_as_text() -> None:
    raw = serialize_result(
        "run", (), {}, 1, 0, False, ValueError("boom"), 0, 1, "ref", QUEUE, "id", serializer=arq_compat.dumps
    )
    assert raw is not None and json.loads(raw)["r"] == "ValueError: boom"


async def test_key_layout_and_priority_as_score(pool: ArqRedis) -> None:
    score = arq_compat.due_score(time.time(), 3600)
    await pool.enqueue_job("noop", _job_id="k1", _queue_name=QUEUE, _defer_until=arq_compat.score_datetime(score))
    assert await pool.zscore(QUEUE, "k1") == score  # the score is exactly the shifted due time
    assert await pool.exists(arq_compat.job_key("k1")) == 1
    assert arq_compat.in_progress_key("k1") == "arq:in-progress:k1" and arq_compat.ABORT_SET == "arq:abort"


async def test_due_jobs_start_lowest_score_first(pool: ArqRedis, redis_url: str) -> None:
    order: list[str] = []

    async def record(ctx: dict[str, Any], name: str) -> None:
        order.append(name)

    now = time.time()
    for name, offset in (("low", 0), ("high", 7200), ("normal", 3600)):
        due = arq_compat.score_datetime(arq_compat.due_score(now, offset))
        await pool.enqueue_job("record", name, _job_id=name, _queue_name=QUEUE, _defer_until=due)
    worker = _make_worker(redis_url, record, burst=True)
    await asyncio.wait_for(worker.async_run(), timeout=30)  # burst: returns once the queue is drained
    await arq_compat.close_worker(worker, _no_shutdown)
    assert order == ["high", "normal", "low"]


async def test_abort_set_cancels_a_running_job_and_close_worker_finishes(pool: ArqRedis, redis_url: str) -> None:
    started = asyncio.Event()

    async def forever(ctx: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(3600)

    async with _worker(redis_url, forever) as worker:
        await pool.enqueue_job("forever", _job_id="f1", _queue_name=QUEUE)
        await asyncio.wait_for(started.wait(), timeout=60)
        assert await pool.exists(arq_compat.in_progress_key("f1")) == 1
        # The frame check finds the worker's own tasks (arq keeps no list of those it detaches).
        assert any(arq_compat.belongs_to(t, worker) for t in asyncio.all_tasks())
        await pool.zadd(arq_compat.ABORT_SET, {"f1": int(time.time() * 1000)})

        async def aborted() -> bool:
            raw = await pool.get("arq:result:f1")
            return raw is not None and json.loads(raw)["s"] is False

        await wait_for(aborted, what="the abort to cancel the running job")
        await pool.enqueue_job("forever", _job_id="f2", _queue_name=QUEUE)
        await wait_for(lambda: _exists(pool, arq_compat.in_progress_key("f2")), what="a second job to run")
        await asyncio.wait_for(arq_compat.close_worker(worker, _no_shutdown), timeout=60)  # cancels f2, ends
        assert worker._pool is None


async def _exists(pool: ArqRedis, key: str) -> bool:
    return bool(await pool.exists(key))
