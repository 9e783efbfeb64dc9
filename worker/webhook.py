"""Completion webhooks: POST a signed JSON summary of each finished job, retried with backoff.

An outbox in the job table: the store sets ``webhook_status`` to ``pending`` on every terminal
transition when a webhook is configured (``JobStore.open(..., webhooks=True)``); a worker claims
it (``sending``, one conditional update, so exactly one worker delivers) and records
``delivered`` or ``failed: <why>``. The worker that finished a job delivers at once; jobs
finished elsewhere (cancelled by the server, failed by a reaper, refused at enqueue) are picked
up by every worker's recovery loop.

Signature: ``X-Personas-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed by the secret>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any

import httpx2

from worker.models import JobState, iso_utc
from worker.options import JobOptions
from worker.store import JobStore

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Personas-Signature"
RESULT_CHARS = 20_000
TIMEOUT_SECONDS = 10.0
ATTEMPT_SECONDS = 30.0
"""Deadline of one delivery attempt, from connecting to the status line and headers."""


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(job: JobState) -> dict[str, Any]:
    result = job.result or ""
    return {
        "event": "job.finished",
        "job_id": job.id,
        "persona": job.persona,
        "status": job.status.value,
        "task": job.task,
        "created_at": iso_utc(job.created_at),
        "completed_at": iso_utc(job.completed_at),
        "duration_seconds": job.duration_seconds,
        "attempts": job.attempts,
        "error": job.error,
        "result": result[:RESULT_CHARS] or None,
        "result_truncated": len(result) > RESULT_CHARS,
        "findings": len(job.findings or []),
        "tokens": {"input": job.tokens_input or 0, "output": job.tokens_output or 0},
    }


def _retryable(status: int) -> bool:
    return status in (408, 409, 425, 429) or status >= 500


class WebhookSender:
    """Delivers the webhooks of one process; :meth:`aclose` waits for deliveries in flight."""

    def __init__(self, store: JobStore, options: JobOptions) -> None:
        if not options.webhook_url or not options.webhook_secret:
            raise ValueError("a webhook needs both a URL and a secret")
        self.store = store
        self.url = options.webhook_url
        self.secret = options.webhook_secret
        self.max_attempts = options.webhook_max_attempts
        self.backoff = options.webhook_backoff_seconds
        self._tasks: set[asyncio.Task[None]] = set()

    async def claim_and_schedule(self, job_id: str) -> bool:
        """Deliver this job's webhook in the background if it is waiting and nobody else took it."""
        if not await self.store.claim_webhook(job_id):
            return False
        task = asyncio.create_task(self._deliver(job_id), name=f"webhook-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _deliver(self, job_id: str) -> None:
        job = await self.store.get(job_id)
        if job is None:
            return
        body = json.dumps(payload(job), separators=(",", ":")).encode()
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)}
        outcome = "failed: not attempted"
        async with httpx2.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    status = await self._post(client, body, headers)
                except httpx2.HTTPError as exc:
                    outcome, retry = f"failed: {type(exc).__name__}: {exc}", True
                except TimeoutError:
                    outcome, retry = f"failed: no answer within {ATTEMPT_SECONDS:g} s", True
                else:
                    if 200 <= status < 300:
                        outcome, retry = f"delivered (attempt {attempt})", False
                    else:
                        outcome, retry = f"failed: HTTP {status}", _retryable(status)
                if not retry or attempt == self.max_attempts:
                    if outcome.startswith("failed"):
                        outcome += f" after {attempt} attempt{'s' if attempt > 1 else ''}"
                    break
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        log.info("webhook for job %s: %s", job_id, outcome)
        await self.store.record_webhook(job_id, outcome)

    async def _post(self, client: httpx2.AsyncClient, body: bytes, headers: dict[str, str]) -> int:
        """The endpoint's status code. Its body is never read (an endless or dripping body held the
        delivery for ever), and the whole attempt, headers included, has a deadline."""
        async with asyncio.timeout(ATTEMPT_SECONDS):
            async with client.stream("POST", self.url, content=body, headers=headers) as response:
                return response.status_code

    async def aclose(self, grace_seconds: float = 10.0) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
