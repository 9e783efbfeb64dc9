"""Jobs cross Redis as JSON, never pickle: a queue entry written by anyone who can reach Redis must not
run code in a worker (it fails unrun), in team mode (REDIS_URL) as on the embedded default."""

from __future__ import annotations

import json
import os
import pickle
import time
from pathlib import Path

import redis.asyncio as aioredis

from tests.conftest import wait_for
from tests.jobs.conftest import JobHarness
from worker.queue import QUEUE_NAME, RUN_FUNCTION


class _RunsCode:
    """Unpickling this runs ``touch <marker>``: what an attacker with Redis access would queue."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


async def test_a_pickled_queue_entry_does_not_run_and_fails_the_delivery(
    jobs: JobHarness, redis_url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"t": 1, "f": RUN_FUNCTION, "a": [_RunsCode(marker)], "k": {}, "et": 0})
    client = aioredis.Redis.from_url(redis_url)
    try:
        # arq's key layout: the payload at arq:job:<id>, the id in the queue's sorted set scored by due ms.
        await client.set("arq:job:evil", payload)
        await client.zadd(QUEUE_NAME, {"evil": int(time.time() * 1000)})
        async with jobs.worker():

            async def handled() -> bytes | None:
                raw: bytes | None = await client.get("arq:result:evil")
                return raw

            result = await wait_for(handled, what="the worker to deal with the injected entry")
            # The worker is still healthy: a real job runs after the bad entry.
            done = await jobs.until(await jobs.submit())
        assert not marker.exists(), "the pickled payload ran code in the worker"
        assert json.loads(result)["s"] is False  # the delivery failed, recorded as JSON
        assert await client.zscore(QUEUE_NAME, "evil") is None
        assert await client.exists("arq:job:evil") == 0
        assert done.status.value == "complete"
    finally:
        await client.aclose()


async def test_enqueued_payloads_are_plain_json(jobs: JobHarness, redis_url: str) -> None:
    job_id = await jobs.submit()
    client = aioredis.Redis.from_url(redis_url)
    try:
        raw = await client.get(f"arq:job:{job_id}")
    finally:
        await client.aclose()
    assert raw is not None
    payload = json.loads(raw)
    assert payload["f"] == RUN_FUNCTION and payload["a"] == [job_id] and payload["k"] == {}
