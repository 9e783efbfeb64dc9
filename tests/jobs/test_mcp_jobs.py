"""The job and ops tools and the jobs resources through the real MCP client and server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic

OPS_TOOLS = {
    "check_persona_job",
    "wait_for_persona_job",
    "cancel_persona_job",
    "list_persona_jobs",
    "persona_database_stats",
    "reset_persona_jobs",
}


def _settings(make_settings: Callable[..., Settings], redis_url: str, api: FakeAnthropic, **kw: Any) -> Settings:
    return make_settings(redis_url=redis_url, anthropic_api_key="sk-test", anthropic_base_url=api.base_url, **kw)


async def _call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


async def _finished(client: Client, job_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        report = await _call(client, "check_persona_job", job_id=job_id)
        return report if report["status"] in ("complete", "failed", "cancelled") else None

    return await wait_for(probe, what=f"job {job_id} to finish")


async def test_tool_schemas(make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic) -> None:
    async with Client(build_server(_settings(make_settings, redis_url, fake_api))) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
    assert set(tools) >= OPS_TOOLS
    schema = {name: tools[name].input_schema for name in OPS_TOOLS}
    assert set(schema["list_persona_jobs"]["properties"]) == {"status", "persona", "limit"}
    assert schema["list_persona_jobs"].get("required", []) == []
    assert set(schema["wait_for_persona_job"]["properties"]) == {"job_id", "timeout_seconds"}
    assert schema["wait_for_persona_job"]["properties"]["timeout_seconds"]["maximum"] == 50
    assert set(schema["cancel_persona_job"]["properties"]) == {"job_id"}
    assert set(schema["reset_persona_jobs"]["properties"]) == {"confirm"}
    assert schema["persona_database_stats"].get("properties", {}) == {}
    for name in OPS_TOOLS:
        assert tools[name].output_schema is not None, name
        assert tools[name].description, name
    assert {"personas://jobs{?status,persona,limit}", "personas://jobs/{job_id}"} <= templates


async def test_list_stats_and_resources_shapes(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    fake_api.add(fake.text("ok", input_tokens=100, output_tokens=10), fake.error(400, "invalid_request_error", "bad"))
    long_task = "review " + "very " * 40 + "carefully"
    async with Client(build_server(_settings(make_settings, redis_url, fake_api))) as client:
        first = (await _call(client, "invoke_security", task=long_task))["job_id"]
        await _finished(client, first)
        second = (await _call(client, "invoke_qa", task="check the tests"))["job_id"]
        await _finished(client, second)

        listed = await _call(client, "list_persona_jobs")
        only_failed = await _call(client, "list_persona_jobs", status="failed", limit=5)
        by_persona = await _call(client, "list_persona_jobs", persona="security")
        stats = await _call(client, "persona_database_stats")
        recent = json.loads((await client.read_resource("personas://jobs")).contents[0].text)  # type: ignore[union-attr]
        filtered = json.loads(
            (await client.read_resource("personas://jobs?status=complete")).contents[0].text  # type: ignore[union-attr]
        )
        one = json.loads((await client.read_resource(f"personas://jobs/{first}")).contents[0].text)  # type: ignore[union-attr]

    assert listed["total_count"] == 2 and listed["filtered_count"] == 2
    assert [j["job_id"] for j in listed["jobs"]] == [second, first]  # newest first
    row = listed["jobs"][1]
    assert set(row) == {"job_id", "persona", "status", "priority", "task", "created_at", "duration_seconds"}
    assert len(row["task"]) == 80 and row["task"].endswith("…")
    assert row["created_at"].endswith("+00:00") and row["duration_seconds"] >= 0
    assert only_failed["filtered_count"] == 1 and only_failed["jobs"][0]["job_id"] == second
    assert by_persona["filtered_count"] == 1 and by_persona["total_count"] == 2

    assert stats["total_jobs"] == 2 and stats["database_size_mb"] > 0
    assert stats["jobs_by_status"] == {"pending": 0, "running": 0, "complete": 1, "failed": 1, "cancelled": 0}
    assert stats["cleanup_recommendation"] == "healthy" and stats["last_cleanup"] is None
    assert stats["next_cleanup"].endswith(":00:00+00:00")
    assert 0 <= stats["oldest_job_days"] < 0.01
    usage = {u["persona"]: u for u in stats["personas"]}
    assert usage["security"]["success_rate"] == 1.0 and usage["qa"]["success_rate"] == 0.0
    assert usage["security"]["tokens_input"] == 100 and usage["security"]["tokens_output"] == 10
    assert usage["security"]["p50_duration_seconds"] is not None
    assert list(usage["security"]["jobs_per_day"].values()) == [0, 0, 0, 0, 0, 0, 1]

    assert recent["total_count"] == 2 and len(recent["jobs"]) == 2
    assert filtered["filtered_count"] == 1 and filtered["jobs"][0]["job_id"] == first
    assert one["job_id"] == first and one["status"] == "complete" and one["result"]


async def test_wait_returns_when_done_and_sends_progress(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    slow = fake.text("Review: all good.")
    slow.delay = 0.6
    fake_api.add(slow)
    notes: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, total, message))

    async with Client(build_server(_settings(make_settings, redis_url, fake_api))) as client:
        job_id = (await _call(client, "invoke_security", task="review"))["job_id"]
        # the wait's own timeout (50 s, the most) is past the hang bound: it returns because the job ended
        result = await asyncio.wait_for(
            client.call_tool(
                "wait_for_persona_job", {"job_id": job_id, "timeout_seconds": 50}, progress_callback=on_progress
            ),
            45,
        )
        report = result.structured_content or {}
    assert report["status"] == "complete" and "all good" in report["result"]
    assert notes and all(total == 100 for _, total, _ in notes)
    assert notes[-1][0] == 100


async def test_wait_times_out_with_progress_and_cancel_via_mcp(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    slow = fake.text("too late")
    slow.delay = 20
    fake_api.add(slow)
    async with Client(build_server(_settings(make_settings, redis_url, fake_api))) as client:
        job_id = (await _call(client, "invoke_architect", task="review"))["job_id"]
        t0 = time.perf_counter()
        report = await _call(client, "wait_for_persona_job", job_id=job_id, timeout_seconds=1)
        waited = time.perf_counter() - t0
        cancelled = await _call(client, "cancel_persona_job", job_id=job_id)
        again = await _call(client, "cancel_persona_job", job_id=job_id)
        unknown = await client.call_tool("wait_for_persona_job", {"job_id": "nope"})
    assert report["status"] in ("pending", "running") and "wait_for_persona_job again" in report["next_step"]
    assert waited >= 0.9  # it waited for the timeout (how much longer is the machine's business)
    assert cancelled["status"] == "cancelled" and cancelled["cancelled"] is True
    assert cancelled["message"].startswith("Job cancelled after")
    assert again["cancelled"] is False and "already cancelled" in again["message"]
    assert unknown.is_error


async def test_reset_needs_confirm_then_deletes_and_cancels(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    slow = fake.text("never")
    slow.delay = 20
    fake_api.add(fake.text("done"), slow)
    async with Client(build_server(_settings(make_settings, redis_url, fake_api))) as client:
        done = (await _call(client, "invoke_qa", task="first"))["job_id"]
        await _finished(client, done)
        running = (await _call(client, "invoke_qa", task="second"))["job_id"]

        async def is_running() -> bool:
            report = await _call(client, "check_persona_job", job_id=running)
            return bool(report["status"] == "running")

        async def is_calling_the_model() -> bool:
            return len(fake_api.requests) == 2

        await wait_for(is_running, what="the second job to run")
        # 'running' is set before the run's first model call goes out: wait for the call, so that
        # "no further calls" below is about the cancelled run, not about a call it never started
        await wait_for(is_calling_the_model, what="the second job's model call")
        refused = await client.call_tool("reset_persona_jobs", {})
        still = await _call(client, "list_persona_jobs")
        reset = await _call(client, "reset_persona_jobs", confirm=True)
        after = await _call(client, "persona_database_stats")
        gone = await client.call_tool("check_persona_job", {"job_id": running})
    assert refused.is_error and "confirm=true" in refused.content[0].text  # type: ignore[union-attr]
    assert still["total_count"] == 2
    assert reset["status"] == "reset" and reset["jobs_deleted"] == 2 and reset["jobs_cancelled"] == 1
    assert reset["space_freed_mb"] >= 0
    assert after["total_jobs"] == 0
    assert gone.is_error
    assert len(fake_api.requests) == 2  # the cancelled run made no further calls
