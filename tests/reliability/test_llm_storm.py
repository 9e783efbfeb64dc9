"""An LLM fault storm: 429 / 529 / 500, timeouts and permanent errors spread over 20 concurrent jobs.

Every job ends complete (its faults fit in the retries) or failed with the status and "after N
retries" (or at once for a permanent error), and the fake API saw exactly the calls the retry
policy allows: never more than 1 + PERSONAS_LLM_MAX_RETRIES per job.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.reliability.helpers import count_with_status, finished, first_user_text, invoke

RETRIES = 2
CALL_TIMEOUT = 0.5
JOBS = 20
PERMANENT = {"400", "401"}
#: The faults each job meets, in order, before the API answers; job i gets PATTERNS[i % 10].
PATTERNS: list[list[str]] = [
    [],
    ["429"],
    ["529", "500"],
    ["timeout"],
    ["500", "timeout"],
    ["529", "529", "529"],
    ["429", "500", "500"],
    ["timeout", "timeout", "timeout"],
    ["400"],
    ["529", "401"],
]
_KINDS = {
    "400": "invalid_request_error",
    "401": "authentication_error",
    "429": "rate_limit_error",
    "500": "api_error",
    "529": "overloaded_error",
}


def _fault(kind: str) -> fake.Reply:
    if kind == "timeout":
        reply = fake.text("too late: the client gave up")
        reply.delay = CALL_TIMEOUT * 3
        return reply
    reply = fake.error(int(kind), _KINDS[kind], f"storm {kind}")
    reply.headers["retry-after-ms"] = "20"  # keep the client's backoff short
    return reply


def _expected(pattern: list[str]) -> tuple[str, int, str | None]:
    """(final status, model calls, the fault that ended it) under the retry policy."""
    for attempt, fault in enumerate([*pattern, "ok"]):
        if fault == "ok":
            return "complete", attempt + 1, None
        if fault in PERMANENT or attempt == RETRIES:
            return "failed", attempt + 1, fault
    raise AssertionError("unreachable")


class Storm:
    def __init__(self) -> None:
        self.calls: Counter[int] = Counter()

    def __call__(self, request: dict[str, Any]) -> fake.Reply:
        match = re.search(r"storm job (\d+)", first_user_text(request))
        assert match, first_user_text(request)
        job = int(match.group(1))
        pattern = PATTERNS[job % len(PATTERNS)]
        n = self.calls[job]
        self.calls[job] += 1
        if n < len(pattern):
            return _fault(pattern[n])
        return fake.text(f"Review of storm job {job}: fine.")


async def test_fault_storm_over_concurrent_jobs(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    storm = Storm()
    fake_api.default = storm
    settings = make_settings(
        redis_url=redis_url,
        anthropic_api_key="sk-test",
        anthropic_base_url=fake_api.base_url,
        llm_max_retries=RETRIES,
        llm_timeout_seconds=CALL_TIMEOUT,
    )
    async with Client(build_server(settings)) as client:
        ids = [await invoke(client, f"storm job {i}: review module {i}", persona="engineer") for i in range(JOBS)]
        reports = await asyncio.gather(*(finished(client, job_id, timeout=60) for job_id in ids))
        stuck = await count_with_status(client, "running") + await count_with_status(client, "pending")

    assert stuck == 0
    for i, report in enumerate(reports):
        status, calls, fault = _expected(PATTERNS[i % len(PATTERNS)])
        assert report["status"] == status, (i, report)
        assert storm.calls[i] == calls, (i, storm.calls[i], calls)
        if status == "complete":
            assert f"storm job {i}: fine" in report["result"]
            continue
        error = report["error"]
        if fault == "timeout":
            assert f"did not answer within {CALL_TIMEOUT:g} s" in error and f"after {RETRIES} retries" in error, error
        elif fault in PERMANENT:
            assert f"Claude API error {fault}" in error and "retries" not in error, error
        else:
            assert f"Claude API error {fault}" in error and f"after {RETRIES} retries" in error, error
    assert max(storm.calls.values()) <= 1 + RETRIES
    assert len(fake_api.requests) == sum(storm.calls.values())
