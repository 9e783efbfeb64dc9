"""Three "hosts" on one Redis and one PostgreSQL: the MCP server (no worker) and two `personas
worker` processes, each with its own data dir. A standard approved on the server becomes
searchable in both workers' own index replicas (read by `personas search` on each worker's data
dir), also on the worker whose standards folder never gets the file (served from the database).
Then a burst of jobs; one worker is SIGKILLed mid-burst and PostgreSQL is restarted once. Every
job ends exactly once (complete), nothing stays stuck."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from mcp import Client
from redis.asyncio import Redis

from mcp_server.server import build_server
from mcp_server.settings import Settings
from standards.curation.store import ProposalStore
from standards.index.writer_lock import HOLDER_NAME
from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.postgres_process import postgres_server as throwaway_postgres
from tests.reliability.helpers import call, first_user_text, invoke
from worker.standards_events import CHANNEL

BURST = 200
CONCURRENCY = 20
PERSONAS_BIN = str(Path(sys.executable).with_name("personas"))
FILE = "security/jwt-verification.md"
STANDARD = """## Summary
Verify every JWT's signature, issuer, audience and expiry before trusting a claim.

## The rule
1. Call `jwt.decode` with the issuer's JWKS key, `audience` and `issuer` set.
"""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def host_env(env: dict[str, str], data_dir: Path, standards_dir: Path | None) -> dict[str, str]:
    """A host's environment: its own data dir and, when given, its own standards folder."""
    own = {"PERSONAS_DATA_DIR": str(data_dir)}
    if standards_dir is not None:
        own["PERSONAS_STANDARDS_DIR"] = str(standards_dir)
    return {**env, **own}


@contextmanager
def worker_process(
    data_dir: Path, env: dict[str, str], standards_dir: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    data_dir.mkdir(parents=True)
    log = (data_dir / "worker.log").open("wb")
    proc = subprocess.Popen(
        [PERSONAS_BIN, "worker"], env=host_env(env, data_dir, standards_dir), stdout=log, stderr=log
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()


async def _writes_own_index(proc: subprocess.Popen[bytes], data_dir: Path) -> bool:
    """The worker process holds its data dir's index writer lock (so a CLI there only reads)."""
    try:
        holder = json.loads((data_dir / "index" / HOLDER_NAME).read_text())
    except (OSError, ValueError):
        return False
    return proc.poll() is None and holder.get("pid") == proc.pid


async def _replica_hits(env: dict[str, str]) -> list[dict[str, Any]]:
    """`personas search` on a worker host's data dir: reads that worker's own index replica."""
    done = await asyncio.to_thread(
        subprocess.run,
        [PERSONAS_BIN, "search", "verify JWT signature issuer audience expiry", "--limit", "10", "--json"],
        env=env,
        capture_output=True,
        timeout=120,
        check=True,
    )
    hits: list[dict[str, Any]] = json.loads(done.stdout)["results"]
    return hits


async def approve_and_find_on_both_replicas(
    client: Client,
    pg_url: str,
    settings: Settings,
    workers: list[tuple[subprocess.Popen[bytes], Path, dict[str, str]]],
    redis_url: str,
) -> None:
    """Approve a standard on the server; wait until `personas search` on each worker's own data
    dir returns it (while that worker runs, so the CLI is a reader of the worker's replica)."""
    for proc, data_dir, _ in workers:

        async def writer(proc: subprocess.Popen[bytes] = proc, data_dir: Path = data_dir) -> bool:
            return await _writes_own_index(proc, data_dir)

        await wait_for(writer, timeout=60, what=f"the worker in {data_dir.name} to write its own index")
    redis = Redis.from_url(redis_url)
    try:

        async def subscribed() -> bool:
            counts = dict(await redis.pubsub_numsub(CHANNEL))
            return int(counts.get(CHANNEL.encode(), 0)) >= len(workers)

        await wait_for(subscribed, timeout=30, what="both workers to listen for standards changes")
    finally:
        await redis.aclose()
    async with ProposalStore.open(pg_url, settings.standards_dir) as store:
        pid = await store.create_draft(
            domain="security",
            topic="jwt-verification",
            title="Verify JWTs",
            content=STANDARD,
            rationale="Seen unverified in api/login.py",
            proposed_by="security",
        )
    approved = await call(client, "approve_standard_proposal", proposal_id=pid, approved_by="alice")
    assert approved["file"] == FILE and Path(approved["path"]).is_file()
    for proc, data_dir, env in workers:

        async def serves(env: dict[str, str] = env) -> bool:
            return any(h["file"] == FILE and "jwt.decode" in h["text"] for h in await _replica_hits(env))

        await wait_for(serves, timeout=90, what=f"the replica in {data_dir.name} to serve the approved standard")
        assert proc.poll() is None and await _writes_own_index(proc, data_dir), "the search only read its index"


async def _statuses(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
    finally:
        await conn.close()
    return {str(r["status"]): int(r["n"]) for r in rows}


async def test_two_worker_hosts_and_a_server_survive_a_kill_and_a_postgres_restart(
    make_settings: Callable[..., Settings],
    redis_url: str,
    fake_api: FakeAnthropic,
    project: Path,
    tmp_path: Path,
    postgres_server: str,  # fails in CI (skips for a developer) when PostgreSQL cannot run
) -> None:
    def answer(request: dict[str, Any]) -> fake.Reply:
        reply = fake.text(f"Done: {first_user_text(request)[:80]}")
        reply.delay = 0.2
        return reply

    fake_api.default = answer
    with throwaway_postgres() as pg:  # our own server: this test restarts it
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_"))}
        env.update(
            REDIS_URL=redis_url,
            PERSONAS_DATABASE_URL=pg.url,
            PERSONAS_PROJECT_ROOT=str(project),
            PERSONAS_EMBEDDER="hashing",
            PERSONAS_QUEUE_POLL_INTERVAL="0.02",
            PERSONAS_WORKER_CONCURRENCY=str(CONCURRENCY),
            PERSONAS_JOB_LEASE_SECONDS="3",
            PERSONAS_JOB_MAX_ATTEMPTS="5",
            ANTHROPIC_API_KEY="sk-test",
            ANTHROPIC_BASE_URL=fake_api.base_url,
            PERSONAS_LLM_MAX_RETRIES="0",
        )
        settings = make_settings(
            data_dir=tmp_path / "server-host",
            redis_url=redis_url,
            database_url=pg.url,
            anthropic_api_key="sk-test",
            anthropic_base_url=fake_api.base_url,
        )
        # Host 2 has its own standards folder (a checkout that never gets the approved file).
        lagging = tmp_path / "worker-host-2-standards"
        lagging.mkdir()
        hosts = [(tmp_path / "worker-host-1", None), (tmp_path / "worker-host-2", lagging)]
        with (
            worker_process(hosts[0][0], env, hosts[0][1]) as doomed,
            worker_process(hosts[1][0], env, hosts[1][1]) as survivor,
        ):
            async with Client(build_server(settings, run_worker=False, watch=False)) as client:
                workers = [
                    (proc, data_dir, host_env(env, data_dir, standards))
                    for proc, (data_dir, standards) in zip((doomed, survivor), hosts, strict=True)
                ]
                await approve_and_find_on_both_replicas(client, pg.url, settings, workers, redis_url)
                assert (settings.standards_dir / FILE).is_file() and not (lagging / FILE).exists()
                ids = [await invoke(client, f"burst job {i}", persona="qa") for i in range(BURST)]

                async def some_done() -> bool:
                    return (await _statuses(pg.url)).get("complete", 0) >= BURST // 5

                await wait_for(some_done, timeout=60, what="a fifth of the burst to complete")
                doomed.send_signal(signal.SIGKILL)
                doomed.wait(timeout=10)
                await asyncio.to_thread(pg.stop)
                await asyncio.to_thread(pg.start)

                async def all_done() -> dict[str, int] | None:
                    counts = await _statuses(pg.url)
                    return counts if counts.get("complete", 0) + counts.get("failed", 0) == BURST else None

                counts = await wait_for(all_done, timeout=180, what="every job to end after the kill and restart")
            assert survivor.poll() is None, "the surviving worker rode out the PostgreSQL restart"
        conn = await asyncpg.connect(pg.url)
        try:
            rows = await conn.fetch("SELECT id, status, attempts, lease_owner, error FROM jobs")
        finally:
            await conn.close()
    assert counts == {"complete": BURST}, [(r["attempts"], r["error"]) for r in rows if r["status"] != "complete"]
    assert sorted(str(r["id"]) for r in rows) == sorted(ids)
    rerun = [r for r in rows if int(r["attempts"]) > 1]
    assert len(rerun) <= 2 * CONCURRENCY, "only runs the kill or the restart interrupted run again"
    for data_dir in (tmp_path / "server-host", tmp_path / "worker-host-1", tmp_path / "worker-host-2"):
        assert not list(data_dir.glob("*.sqlite3")), f"no SQLite system of record in {data_dir}"
