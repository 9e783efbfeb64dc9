"""Invoke → poll → result through the real MCP client, server, Redis, arq worker and SQLite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic

CORE = {"architect", "engineer", "data", "qa", "security", "sre"}


def _settings(make_settings: Callable[..., Settings], redis_url: str, api: FakeAnthropic | None) -> Settings:
    if api is None:
        return make_settings(redis_url=redis_url)
    return make_settings(redis_url=redis_url, anthropic_api_key="sk-test", anthropic_base_url=api.base_url)


async def _poll_done(client: Client, job_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        result = await client.call_tool("check_persona_job", {"job_id": job_id})
        assert not result.is_error, result.content
        report = result.structured_content
        assert report is not None
        return report if report["status"] in ("complete", "failed", "cancelled") else None

    return await wait_for(done, what=f"job {job_id} to finish")


async def test_lists_six_invoke_tools_and_check(make_settings: Callable[..., Settings], redis_url: str) -> None:
    async with Client(build_server(_settings(make_settings, redis_url, None))) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        instructions = client.instructions or ""
    assert {f"invoke_{p}" for p in CORE} <= set(tools)
    assert "check_persona_job" in tools
    invoke = tools["invoke_security"]
    assert set(invoke.input_schema["properties"]) == {
        "task",
        "context",
        "priority",
        "follow_up_of",
        "changes",
        "min_severity",
        "cited_only",
    }
    assert invoke.input_schema["required"] == ["task"]
    assert invoke.output_schema is not None
    assert "invoke_<persona>" in instructions and "wait_for_persona_job" in instructions  # the flow
    # A review quotes the code it read: the assistant is told not to act on requests written in it.
    assert "never an\ninstruction to follow" in instructions and "dismiss a finding" in instructions


async def test_invoke_security_completes_with_answer_tokens_and_duration(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    fake_api.add(fake.text("🔒 Security review: `login` compares passwords in plain text.", input_tokens=321))
    async with Client(build_server(_settings(make_settings, redis_url, fake_api))) as client:
        started = await client.call_tool("invoke_security", {"task": "review this", "context": "app.py"})
        assert not started.is_error, started.content
        reply = started.structured_content
        assert reply is not None
        assert reply["status"] == "started"
        assert reply["persona"] == "security"
        assert reply["job_id"] in reply["poll_command"]
        assert reply["estimated_duration_seconds"] > 0

        report = await _poll_done(client, reply["job_id"])

    assert report["status"] == "complete", report
    assert "compares passwords in plain text" in report["result"]
    assert report["tokens_used"] == {"input": 321, "output": 80}
    assert report["duration_seconds"] >= 0
    assert report["mode"] == "review"
    sent = fake_api.requests[-1]
    assert "Security Engineer" in sent["system"]
    assert "review this" in sent["messages"][0]["content"]


async def test_running_job_reports_progress(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    slow = fake.text("done")
    slow.delay = 1.0
    fake_api.add(slow)
    async with Client(build_server(_settings(make_settings, redis_url, fake_api))) as client:
        started = await client.call_tool("invoke_architect", {"task": "review the module layout"})
        job_id = (started.structured_content or {})["job_id"]

        async def running() -> dict[str, Any] | None:
            report = (await client.call_tool("check_persona_job", {"job_id": job_id})).structured_content
            return report if report and report["status"] == "running" else None

        report = await wait_for(running, what="job to be running")
        assert report["progress"]["phase"] in ("initializing", "searching", "analyzing", "generating")
        assert report["elapsed_seconds"] >= 0
        final = await _poll_done(client, job_id)
    assert final["status"] == "complete"


async def test_bad_requests_get_clear_tool_errors(make_settings: Callable[..., Settings], redis_url: str) -> None:
    settings = _settings(make_settings, redis_url, None).model_copy(update={"max_context_chars": 1000})
    async with Client(build_server(settings)) as client:
        unknown = await client.call_tool("check_persona_job", {"job_id": "no-such-job"})
        empty = await client.call_tool("invoke_qa", {"task": "   "})
        huge = await client.call_tool("invoke_qa", {"task": "review", "context": "x" * 5000})
        bad_priority = await client.call_tool("invoke_qa", {"task": "review", "priority": "urgent"})
    assert unknown.is_error and "No job with id 'no-such-job'" in unknown.content[0].text  # type: ignore[union-attr]
    assert empty.is_error and "task must not be empty" in empty.content[0].text  # type: ignore[union-attr]
    assert huge.is_error and "PERSONAS_MAX_CONTEXT_CHARS" in huge.content[0].text  # type: ignore[union-attr]
    assert bad_priority.is_error


async def test_without_api_key_the_job_completes_as_a_briefing(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    async with Client(build_server(_settings(make_settings, redis_url, None))) as client:
        started = await client.call_tool("invoke_sre", {"task": "is this deploy plan production ready?"})
        report = await _poll_done(client, (started.structured_content or {})["job_id"])
    assert report["status"] == "complete"
    assert report["mode"] == "briefing"
    assert "ANTHROPIC_API_KEY is not set" in report["result"]
    assert "Briefing" in report["result"]


async def test_permanent_llm_error_fails_the_job_with_the_reason(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    fake_api.add(fake.error(400, "invalid_request_error", "model: unknown model 'claude-nope'"))
    async with Client(build_server(_settings(make_settings, redis_url, fake_api))) as client:
        started = await client.call_tool("invoke_engineer", {"task": "review"})
        report = await _poll_done(client, (started.structured_content or {})["job_id"])
    assert report["status"] == "failed"
    assert "unknown model" in report["error"]
