"""Completion webhook: signed JSON POST, retried with backoff, delivery recorded on the job."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import wait_for
from tests.jobs.conftest import JobHarness
from worker.models import JobStatus
from worker.webhook import SIGNATURE_HEADER

SECRET = "s3cr3t-for-tests"


@dataclass
class Receiver:
    """A loopback HTTP endpoint answering with scripted status codes (then 200), recording requests."""

    statuses: list[int]
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.received.append((headers, body))
        status = self.statuses.pop(0) if self.statuses else 200
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()


@asynccontextmanager
async def receiver(*statuses: int) -> AsyncIterator[Receiver]:
    rec = Receiver(list(statuses))
    server = await asyncio.start_server(rec.handle, "127.0.0.1", 0)
    rec.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    async with server:
        yield rec


def _verify(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER.lower()], expected)
    assert headers["content-type"] == "application/json"
    payload: dict[str, Any] = json.loads(body)
    return payload


async def _delivered(jobs: JobHarness, job_id: str) -> str:
    async def probe() -> str | None:
        status = (await jobs.job(job_id)).webhook_status
        return status if status and status not in ("pending", "sending") else None

    return await wait_for(probe, what="the webhook delivery to be recorded")


async def test_webhook_is_signed_retried_and_recorded(make_jobs: Callable[..., Any]) -> None:
    async with (
        receiver(500, 503) as rec,
        make_jobs(webhook_url=rec.url, webhook_secret=SECRET) as jobs,
        jobs.worker(),
    ):
        job = await jobs.until(await jobs.submit(task="review the login"))
        status = await _delivered(jobs, job.id)
    assert job.status is JobStatus.COMPLETE
    assert status == "delivered (attempt 3)"
    assert len(rec.received) == 3
    bodies = {body for _, body in rec.received}
    assert len(bodies) == 1  # the same signed body each time
    payload = _verify(*rec.received[-1])
    assert payload["event"] == "job.finished" and payload["job_id"] == job.id
    assert payload["status"] == "complete" and payload["persona"] == "security"
    assert payload["task"] == "review the login" and payload["result"]


async def test_webhook_gives_up_after_max_attempts(make_jobs: Callable[..., Any]) -> None:
    async with (
        receiver(500, 500, 500) as rec,
        make_jobs(webhook_url=rec.url, webhook_secret=SECRET, webhook_max_attempts=2) as jobs,
        jobs.worker(),
    ):
        job = await jobs.until(await jobs.submit())
        status = await _delivered(jobs, job.id)
    assert status == "failed: HTTP 500 after 2 attempts"
    assert len(rec.received) == 2


async def test_cancelled_job_webhook_is_delivered_by_a_worker(make_jobs: Callable[..., Any]) -> None:
    async with receiver() as rec, make_jobs(webhook_url=rec.url, webhook_secret=SECRET, lease_seconds=0.6) as jobs:
        job_id = await jobs.submit()
        await jobs.service.cancel(job_id)  # by the server: no worker involved
        async with jobs.worker():
            status = await _delivered(jobs, job_id)
    assert status == "delivered (attempt 1)"
    assert _verify(*rec.received[0])["status"] == "cancelled"


async def test_an_invoke_refused_because_redis_is_down_sends_its_webhook(make_jobs: Callable[..., Any]) -> None:
    import pytest

    from worker.errors import QueueUnavailableError
    from worker.queue import JobQueue, make_pool
    from worker.service import JobService

    async with receiver() as rec, make_jobs(webhook_url=rec.url, webhook_secret=SECRET) as jobs:
        dead_url = "redis://127.0.0.1:1/0"
        dead_pool = make_pool(dead_url)
        try:
            down = JobService(
                jobs.store, JobQueue(dead_pool, dead_url), jobs.personas, max_context_chars=1000, options=jobs.options
            )
            with pytest.raises(QueueUnavailableError):
                await down.submit("security", "review app.py")
        finally:
            await dead_pool.aclose()
        failed = (await jobs.store.list_jobs(status="failed"))[0][0]
        assert failed.webhook_status == "pending"
        async with jobs.worker():  # Redis is back: the outbox delivers it
            status = await _delivered(jobs, failed.id)
    assert status == "delivered (attempt 1)"
    assert _verify(*rec.received[0])["status"] == "failed"
