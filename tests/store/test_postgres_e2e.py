"""PERSONAS_DATABASE_URL end to end: an MCP server and a standalone worker with its own data dir
(standing in for two hosts) share one Redis and one PostgreSQL; no SQLite file is written."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
from mcp import Client

from mcp_server.app import open_worker_deps
from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from worker.app import build_worker


async def test_server_and_worker_on_other_hosts_share_postgres(
    make_settings: Callable[..., Settings],
    fake_api: FakeAnthropic,
    redis_url: str,
    postgres_database: str,
    tmp_path: Path,
) -> None:
    fake_api.add(fake.text("Finding: the password is compared in plain text."))
    common: dict[str, Any] = {
        "redis_url": redis_url,
        "database_url": postgres_database,
        "anthropic_api_key": "sk-test",
        "anthropic_base_url": fake_api.base_url,
    }
    server_settings = make_settings(data_dir=tmp_path / "server-data", **common)
    worker_settings = make_settings(data_dir=tmp_path / "worker-data", **common)
    async with open_worker_deps(worker_settings) as deps:
        worker = build_worker(redis_url, deps, concurrency=5, poll_interval=0.02)
        running = asyncio.create_task(worker.async_run())
        try:
            async with Client(build_server(server_settings, run_worker=False, watch=False)) as client:
                started = await client.call_tool("invoke_security", {"task": "review app.py", "context": "app.py"})
                assert not started.is_error, started.content
                job_id = (started.structured_content or {})["job_id"]

                async def finished() -> dict[str, Any] | None:
                    report = (await client.call_tool("check_persona_job", {"job_id": job_id})).structured_content
                    return report if report and report["status"] in ("complete", "failed") else None

                report = await wait_for(finished, timeout=30, what="the job to finish on the other host's worker")
                proposals = await client.call_tool("list_standard_proposals", {})
        finally:
            await worker.close()
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    assert report["status"] == "complete", report
    assert "plain text" in report["result"]
    assert not proposals.is_error, proposals.content
    conn = await asyncpg.connect(postgres_database)
    try:
        row = await conn.fetchrow("SELECT status, lease_owner FROM jobs WHERE id=$1", job_id)
        transcripts = await conn.fetchval("SELECT COUNT(*) FROM conversations WHERE job_id=$1", job_id)
        usage = await conn.fetchval("SELECT SUM(accepted) FROM usage_daily WHERE persona='security'")
    finally:
        await conn.close()
    assert row is not None and row["status"] == "complete" and row["lease_owner"] == deps.worker_id
    assert transcripts == 1 and usage == 1
    for data_dir in (tmp_path / "server-data", tmp_path / "worker-data"):
        assert not list(data_dir.glob("*.sqlite3")), f"no SQLite system of record in {data_dir}"


async def test_jobs_cli_reads_the_postgres_history(postgres_database: str, tmp_path: Path) -> None:
    import io

    from personas.registry import PersonaRegistry
    from worker.commands import jobs_command
    from worker.models import JobState
    from worker.options import JobOptions
    from worker.store import JobStore

    async with JobStore.open(postgres_database) as store:
        job = JobState(persona="qa", task="listed from postgres")
        await store.insert(job)
    out, err = io.StringIO(), io.StringIO()
    code = await jobs_command(
        "list",
        db_path=postgres_database,
        data_dir=tmp_path,
        redis_url=None,
        personas=PersonaRegistry.load(None),
        options=JobOptions(),
        out=out,
        err=err,
    )
    assert code == 0, err.getvalue()
    assert job.id in out.getvalue() and "1 matching of 1 jobs" in out.getvalue()
