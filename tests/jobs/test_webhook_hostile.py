"""A webhook endpoint that answers 200 and then never ends its body (a misbehaving proxy, a wrong
URL serving a stream): the delivery is recorded from the status line, not held by the body."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from tests.conftest import wait_for
from tests.jobs.conftest import JobHarness

SECRET = "s3cr3t-for-tests"


async def test_an_endless_response_body_does_not_hold_the_delivery(make_jobs: Callable[..., Any]) -> None:
    stop = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n")
        try:
            while not stop.is_set():  # a byte now and then, for ever: each read is within any read timeout
                writer.write(b".")
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=0.2)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    try:
        async with server, make_jobs(webhook_url=url, webhook_secret=SECRET) as jobs, jobs.worker():
            job = await jobs.until(await jobs.submit(task="review the login"))
            harness: JobHarness = jobs

            async def recorded() -> str | None:
                status = (await harness.job(job.id)).webhook_status
                return status if status and status not in ("pending", "sending") else None

            status = await wait_for(recorded, timeout=20, what="the webhook delivery to be recorded")
            assert status == "delivered (attempt 1)"
    finally:
        stop.set()
