"""API failures: what the SDK retries, what fails fast, and the time budgets."""

from __future__ import annotations

import asyncio
import socket

import pytest

from personas.model import PersonaDefinition
from personas.runtime import (
    LLMConfig,
    PersonaRunError,
    ProgressUpdate,
    RunLimits,
    RunRequest,
    RunToolbox,
    run_persona,
)
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.personas.helpers import Progress, submit

REQUEST = RunRequest(job_id="job-err", task="Review the login flow")


async def test_429_is_retried_by_the_client_then_succeeds(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    fake_api.add(fake.rate_limited(), submit("Verdict: OK."))

    outcome = await run_persona(security, REQUEST, llm.model_copy(update={"max_retries": 1}), Progress(), toolbox)

    assert outcome.ended_by == "submit_review"
    assert len(fake_api.requests) == 2


async def test_529_overloaded_after_retries_is_a_transient_failure(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    fake_api.add(fake.overloaded(), fake.overloaded())

    with pytest.raises(PersonaRunError) as caught:
        await run_persona(security, REQUEST, llm.model_copy(update={"max_retries": 1}), Progress(), toolbox)

    assert caught.value.transient
    message = str(caught.value)
    assert "Claude API error 529" in message
    assert "Overloaded" in message
    assert "after 1 retries" in message
    assert len(fake_api.requests) == 2


async def test_529_mid_run_keeps_the_partial_result(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    fake_api.add(
        fake.tool_use("read_file", {"path": "api/login.py"}, preface="Reading the handler."),
        fake.overloaded(),
    )

    with pytest.raises(PersonaRunError) as caught:
        await run_persona(security, REQUEST, llm, Progress(), toolbox)

    assert caught.value.transient
    assert "Reading the handler." in (caught.value.partial_result or "")
    assert "Reading api/login.py" in (caught.value.partial_result or "")


@pytest.mark.parametrize(
    ("status", "kind", "hint"),
    [
        (400, "invalid_request_error", "unknown model"),
        (401, "authentication_error", "ANTHROPIC_API_KEY"),
        (403, "permission_error", "may not use this model"),
        (404, "not_found_error", "PERSONAS_MODEL"),
    ],
)
async def test_permanent_errors_fail_fast_without_retries(
    fake_api: FakeAnthropic,
    llm: LLMConfig,
    security: PersonaDefinition,
    toolbox: RunToolbox,
    status: int,
    kind: str,
    hint: str,
) -> None:
    fake_api.add(fake.error(status, kind, "model: unknown model 'claude-nope'"))

    with pytest.raises(PersonaRunError) as caught:
        await run_persona(security, REQUEST, llm.model_copy(update={"max_retries": 3}), Progress(), toolbox)

    assert not caught.value.transient
    assert f"Claude API error {status}" in str(caught.value)
    assert hint in str(caught.value)
    assert len(fake_api.requests) == 1


async def test_slow_response_hits_the_call_timeout(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    slow = submit()
    slow.delay = 60.0  # far past the client's timeout, however late its timer fires on a loaded machine
    fake_api.add(slow)

    with pytest.raises(PersonaRunError) as caught:
        await run_persona(security, REQUEST, llm.model_copy(update={"timeout_seconds": 0.5}), Progress(), toolbox)

    assert caught.value.transient
    assert "did not answer within 0.5 s" in str(caught.value)
    assert "PERSONAS_LLM_TIMEOUT_SECONDS" in str(caught.value)


async def test_run_time_budget_fails_cleanly_with_partial_result(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    slow = submit()
    slow.delay = 60.0  # the budget ends the run long before this reply would come
    fake_api.add(fake.tool_use("search_standards", {"query": "jwt"}, preface="Searching first."), slow)
    # The budget must cover the first turn (a local round trip and one search) however starved the
    # machine is (3 s was a deadline at load average 10); the second reply never comes in time.
    toolbox.limits = RunLimits(max_seconds=10.0)

    with pytest.raises(PersonaRunError) as caught:
        await run_persona(security, REQUEST, llm, Progress(), toolbox)

    assert not caught.value.transient
    assert "time budget of 10 s" in str(caught.value)
    assert "Searching first." in (caught.value.partial_result or "")


async def test_unreachable_endpoint_is_transient(
    llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = llm.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})

    with pytest.raises(PersonaRunError) as caught:
        await run_persona(security, REQUEST, dead, Progress(), toolbox)

    assert caught.value.transient
    assert "Cannot reach the Claude API" in str(caught.value)


async def test_cancelled_run_leaves_its_partial_result_in_the_last_progress_update(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    slow = submit()
    slow.delay = 1.0
    fake_api.add(fake.tool_use("read_file", {"path": "api/login.py"}, preface="The handler decodes JWTs."), slow)
    second_turn = asyncio.Event()
    progress = Progress()

    async def sink(update: ProgressUpdate) -> None:
        await progress(update)
        if "turn 2 of" in update.message:
            second_turn.set()

    task = asyncio.create_task(run_persona(security, REQUEST, llm, sink, toolbox))
    await asyncio.wait_for(second_turn.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    last = progress.updates[-1]
    assert last.phase == "analyzing"
    assert "The handler decodes JWTs." in (last.partial_result or "")
    assert "Reading api/login.py" in (last.partial_result or "")


async def test_near_the_time_budget_the_next_turn_must_submit(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    slow_search = fake.tool_use("search_standards", {"query": "jwt"})
    slow_search.delay = 1.25
    fake_api.add(slow_search, submit("Verdict: partial review."))
    toolbox.limits = RunLimits(max_seconds=1.5)

    outcome = await run_persona(security, REQUEST, llm, Progress(), toolbox)

    assert outcome.ended_by == "submit_review"
    assert fake_api.requests[1]["tool_choice"] == {"type": "tool", "name": "submit_review"}
    assert "the time budget (1.5 s)" in fake_api.requests[1]["messages"][-1]["content"][-1]["text"]
