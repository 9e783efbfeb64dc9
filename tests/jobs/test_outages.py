"""Redis down: a fast, clear error and recovery when it is back. Server restart: history kept,
pending jobs run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import wait_for
from tests.fakes.anthropic_api import FakeAnthropic
from tests.redis_process import free_port, redis_process


@contextmanager
def redis_on(port: int, workdir: Path) -> Iterator[None]:
    with redis_process(workdir, port):
        yield


async def _finished(client: Client, job_id: str, timeout: float = 15) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        report = (await client.call_tool("check_persona_job", {"job_id": job_id})).structured_content
        return report if report and report["status"] in ("complete", "failed", "cancelled") else None

    return await wait_for(probe, timeout=timeout, what=f"job {job_id} to finish")


async def test_redis_down_gives_a_fast_clear_error_and_recovers(
    make_settings: Callable[..., Settings], fake_api: FakeAnthropic, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here yet
    settings = make_settings(
        redis_url=f"redis://127.0.0.1:{port}/0", anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url
    )
    async with Client(build_server(settings)) as client:
        failed = await client.call_tool("invoke_security", {"task": "review"})
        listed = (await client.call_tool("list_persona_jobs", {})).structured_content or {}

        with redis_on(port, tmp_path):

            async def accepted() -> dict[str, Any] | None:
                result = await client.call_tool("invoke_security", {"task": "review again"})
                return result.structured_content if not result.is_error else None

            started = await wait_for(accepted, timeout=60, what="invoke to work once Redis is up")
            # The in-process worker reconnects by itself and runs it.
            report = await _finished(client, started["job_id"])

    text = failed.content[0].text  # type: ignore[union-attr]
    assert failed.is_error
    assert f"cannot reach Redis at 127.0.0.1:{port}" in text and "REDIS_URL" in text
    assert listed["jobs"][0]["status"] == "failed"  # recorded, not left pending
    assert report["status"] == "complete", report


async def test_server_restart_keeps_history_and_runs_pending_jobs(
    make_settings: Callable[..., Settings], fake_api: FakeAnthropic, tmp_path: Path
) -> None:
    """Embedded default: the private Redis (and its queue) dies with the server; SQLite remains."""
    settings = make_settings(anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url)
    async with Client(build_server(settings)) as client:
        done = (await client.call_tool("invoke_sre", {"task": "before restart"})).structured_content or {}
        await _finished(client, done["job_id"])
    async with Client(build_server(settings, run_worker=False)) as client:
        pending = [
            ((await client.call_tool("invoke_qa", {"task": f"queued {i}"})).structured_content or {})["job_id"]
            for i in range(3)
        ]
    # The server and its Redis are gone: the pending jobs are only in SQLite now.
    async with Client(build_server(settings)) as client:
        reports = [await _finished(client, job_id) for job_id in pending]
        history = (await client.call_tool("list_persona_jobs", {"limit": 10})).structured_content or {}
    assert [r["status"] for r in reports] == ["complete"] * 3
    assert history["total_count"] == 4
    assert done["job_id"] in {j["job_id"] for j in history["jobs"]}


async def test_redis_restart_mid_burst_loses_no_job(
    make_settings: Callable[..., Settings], fake_api: FakeAnthropic, tmp_path: Path
) -> None:
    """Redis (no persistence) dies with jobs queued and running, and comes back empty: every job
    still completes exactly once (running ones finish from SQLite; queued ones are re-enqueued)."""
    from tests.fakes import anthropic_api as fake

    def slow(_: dict[str, Any]) -> fake.Reply:
        reply = fake.text("ok")
        reply.delay = 0.3
        return reply

    fake_api.default = slow
    port = free_port()
    settings = make_settings(
        redis_url=f"redis://127.0.0.1:{port}/0",
        anthropic_api_key="sk-test",
        anthropic_base_url=fake_api.base_url,
        worker_concurrency=4,
        job_lease_seconds=1.5,
    )
    jobs = 20
    with redis_on(port, tmp_path):
        client_cm = Client(build_server(settings))
        client = await client_cm.__aenter__()
        try:
            ids = []
            for i in range(jobs):
                started = await client.call_tool("invoke_qa", {"task": f"review module {i}"})
                ids.append((started.structured_content or {})["job_id"])

            async def some_done() -> bool:
                listed = (
                    await client.call_tool("list_persona_jobs", {"status": "complete", "limit": 50})
                ).structured_content
                return bool(listed and listed["filtered_count"] >= 4)

            await wait_for(some_done, timeout=30, what="a few jobs to complete before the restart")
        except BaseException:
            await client_cm.__aexit__(None, None, None)
            raise
    try:
        with redis_on(port, tmp_path):  # back, with an empty queue

            async def all_done() -> list[dict[str, Any]] | None:
                listed = (await client.call_tool("list_persona_jobs", {"limit": 50})).structured_content or {}
                finished = [j for j in listed.get("jobs", []) if j["status"] in ("complete", "failed", "cancelled")]
                return listed["jobs"] if len(finished) == jobs else None

            final = await wait_for(all_done, timeout=60, what="every job to finish after the Redis restart")
    finally:
        await client_cm.__aexit__(None, None, None)
    assert sorted(j["job_id"] for j in final) == sorted(ids)
    assert {j["status"] for j in final} == {"complete"}
    assert len(fake_api.requests) == jobs  # nothing ran twice
