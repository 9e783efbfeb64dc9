"""Job system throughput: many concurrent jobs on one worker, and a burst over two worker processes.

Uses the scripted fake Messages API (tests/fakes/anthropic_api.py) answering every call after a
fixed delay (default 2 s), a private redis-server, and real SQLite. Prints numbers; asserts nothing.

    .venv/bin/python -m bench.jobs_bench [--concurrent 200] [--burst 500] [--delay 2.0] [--database both]

--database sqlite (default), postgres, or both: where the jobs live. postgres starts a throwaway
PostgreSQL (tests/postgres_process.py) and runs 0. and 2. on it (PERSONAS_DATABASE_URL for the
workers), so the numbers print next to SQLite's.

1. One in-process worker, concurrency = --concurrent, that many jobs submitted at once: all of them
   run at the same time; completion time, throughput, pickup latency (started_at - created_at).
2. --burst jobs submitted at once to two `personas worker` subprocesses (REDIS_URL + a shared
   PERSONAS_DATA_DIR on SQLite, a data dir each on PostgreSQL, default concurrency 100 each):
   completion time, throughput, queue wait.
Both check that no job was lost or run twice (one model call per job, every job complete once).
With --database both, a last table puts SQLite's figures (0. and 2.) next to PostgreSQL's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import redis

from personas.registry import PersonaRegistry
from personas.runtime import LLMConfig, SharedClient
from tests.fakes import anthropic_api as fake
from tests.redis_process import redis_process
from worker.app import build_worker
from worker.models import JobState, JobStatus
from worker.options import JobOptions
from worker.queue import JobQueue, make_pool
from worker.service import JobService
from worker.store import JobStore
from worker.tasks import WorkerDeps

ROOT = Path(__file__).resolve().parents[1]

PERSONAS_BIN = str(Path(sys.executable).with_name("personas"))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def slow_fake(delay: float) -> fake.FakeAnthropic:
    def answer(_request: dict[str, Any]) -> fake.Reply:
        reply = fake.text("Review: no issues found in the given context.")
        reply.delay = delay
        return reply

    return fake.FakeAnthropic(default=answer)


@asynccontextmanager
async def job_service(db_path: Path | str, redis_url: str) -> AsyncIterator[JobService]:
    async with JobStore.open(db_path) as store:
        pool = make_pool(redis_url)
        try:
            yield JobService(store, JobQueue(pool, redis_url), PersonaRegistry.load(None), max_context_chars=200_000)
        finally:
            await pool.aclose()


async def burst(service: JobService, n: int) -> tuple[list[str], float]:
    t0 = time.perf_counter()
    results = await asyncio.gather(*(service.submit("security", f"review change {i}") for i in range(n)))
    return [r.job_id for r in results], time.perf_counter() - t0


async def wait_all(store: JobStore, job_ids: list[str], limit_s: float) -> tuple[list[JobState], int]:
    """Wait until every job is terminal (one cheap aggregate query per tick, so the measurement does
    not load the worker sharing this process); also returns the peak number running at once."""
    deadline = time.monotonic() + limit_s
    peak = 0
    while time.monotonic() < deadline:
        counts = await store.status_counts()
        peak = max(peak, counts["running"])
        if counts["pending"] + counts["running"] == 0:
            break
        await asyncio.sleep(0.1)
    jobs = [j for j in [await store.get(i) for i in job_ids] if j is not None]
    return jobs, peak


def report(title: str, jobs: list[JobState], n: int, elapsed: float, submit_s: float, calls: int, **extra: str) -> None:
    pickup = [((j.started_at or 0) - j.created_at) * 1000 for j in jobs if j.started_at]
    complete = sum(j.status is JobStatus.COMPLETE for j in jobs)
    rows = [
        ("jobs submitted / complete", f"{n} / {complete}"),
        ("lost (not complete) / run twice", f"{n - complete} / {sum(j.attempts > 1 for j in jobs)}"),
        ("model calls (1 per job; warm-up excluded)", f"{calls}"),
        ("submit burst", f"{submit_s * 1000:.0f} ms ({n / submit_s:.0f} jobs/s)"),
        ("completion time (first submit → last done)", f"{elapsed:.2f} s"),
        ("throughput", f"{n / elapsed:.1f} jobs/s"),
        ("pickup latency p50 / p95 (started − created)", f"{pct(pickup, 50):.1f} / {pct(pickup, 95):.1f} ms"),
        *extra.items(),
    ]
    print(f"\n{title}")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


async def fresh_database(admin_url: str, name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return admin_url.rsplit("/", 1)[0] + "/" + name


async def idle_pickup(n: int, tmp: Path, redis_url: str, db_url: str | None = None) -> dict[str, str]:
    """The queue's own latency: jobs submitted one at a time to an idle worker."""
    with slow_fake(0.0) as api:
        db: Path | str = db_url or tmp / "idle" / "jobs.sqlite3"
        llm = LLMConfig(api_key="sk-bench", base_url=api.base_url, max_retries=0)
        async with job_service(db, redis_url) as service, JobStore.open(db) as worker_store:
            deps = WorkerDeps(store=worker_store, personas=service.personas, llm=llm, job_timeout_seconds=60)
            worker = build_worker(redis_url, deps, concurrency=10, poll_interval=0.05)
            task = asyncio.create_task(worker.async_run())
            await wait_all(service.store, (await burst(service, 2))[0], limit_s=60)
            pickups = []
            for i in range(n):
                job_id = (await service.submit("security", f"review {i}")).job_id
                (job,), _ = await wait_all(service.store, [job_id], limit_s=30)
                pickups.append(((job.started_at or 0) - job.created_at) * 1000)
            await worker.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    where = "PostgreSQL" if db_url else "SQLite"
    print(f"\n0. [{where}] pickup latency, idle worker (PERSONAS_QUEUE_POLL_INTERVAL=0.05), {n} jobs one at a time")
    print(f"  p50 / p95 / max  {pct(pickups, 50):.1f} / {pct(pickups, 95):.1f} / {max(pickups):.1f} ms")
    return {"pickup latency, idle worker (p50 / p95)": f"{pct(pickups, 50):.1f} / {pct(pickups, 95):.1f} ms"}


async def one_worker(n: int, delay: float, tmp: Path, redis_url: str, *, label: str = "") -> None:
    with slow_fake(delay) as api:
        db = tmp / f"one{label.replace(' ', '-')}" / "jobs.sqlite3"
        llm = LLMConfig(api_key="sk-bench", base_url=api.base_url, max_retries=0)
        async with job_service(db, redis_url) as service, JobStore.open(db) as worker_store:
            deps = WorkerDeps(
                store=worker_store,
                personas=service.personas,
                llm=llm,
                job_timeout_seconds=120,
                options=JobOptions(),
                client=SharedClient(llm),  # as the real workers do: one Anthropic client per process
            )
            worker = build_worker(redis_url, deps, concurrency=n, poll_interval=0.05)
            task = asyncio.create_task(worker.async_run())
            # Warm up (first-run imports in the runtime), so the numbers are steady state.
            await wait_all(service.store, (await burst(service, 2))[0], limit_s=60)
            job_ids, submit_s = await burst(service, n)
            jobs, peak = await wait_all(service.store, job_ids, limit_s=120)
            elapsed = max((j.completed_at or 0) for j in jobs) - min(j.created_at for j in jobs)
            await worker.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        report(
            f"1{label}. {n} concurrent jobs, one in-process worker (concurrency {n}), fake API {delay:g} s/call",
            jobs,
            n,
            elapsed,
            submit_s,
            len(api.requests) - 2,
            **{"peak running at once": str(peak)},
        )


async def two_processes(n: int, delay: float, tmp: Path, redis_url: str, db_url: str | None = None) -> dict[str, str]:
    """On SQLite both workers share one data dir (one host); on PostgreSQL each has its own (two hosts)."""
    data_dir = tmp / ("shared-pg" if db_url else "shared")
    data_dir.mkdir()
    dirs = [data_dir / f"host{i}" for i in range(2)] if db_url else [data_dir, data_dir]
    for folder in dirs:
        folder.mkdir(exist_ok=True)
    with slow_fake(delay) as api:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_")) and k != "REDIS_URL"
        }
        env.update(
            REDIS_URL=redis_url,
            PERSONAS_DATA_DIR=str(data_dir),
            PERSONAS_PROJECT_ROOT=str(tmp),
            ANTHROPIC_API_KEY="sk-bench",
            ANTHROPIC_BASE_URL=api.base_url,
            PERSONAS_LLM_MAX_RETRIES="0",
            PERSONAS_LOG_LEVEL="INFO",
            PERSONAS_EMBEDDER="hashing",
        )
        if db_url:
            env["PERSONAS_DATABASE_URL"] = db_url
        logs = [(data_dir / f"worker{i}.log").open("w") for i in range(2)]
        procs = [
            await asyncio.create_subprocess_exec(
                PERSONAS_BIN,
                "worker",
                env={**env, "PERSONAS_DATA_DIR": str(folder)},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            for log, folder in zip(logs, dirs, strict=True)
        ]
        try:
            deadline = time.monotonic() + 60
            while sum("ready (lease" in (data_dir / f"worker{i}.log").read_text() for i in range(2)) < 2:
                if time.monotonic() > deadline or any(p.returncode is not None for p in procs):
                    raise RuntimeError("workers did not start; see " + str(data_dir))
                await asyncio.sleep(0.1)
            async with job_service(db_url or data_dir / "jobs.sqlite3", redis_url) as service:
                warm, _ = await burst(service, 20)  # first-run imports in both workers
                await wait_all(service.store, warm, limit_s=60)
                job_ids, submit_s = await burst(service, n)
                jobs, peak = await wait_all(service.store, job_ids, limit_s=300)
            elapsed = max((j.completed_at or 0) for j in jobs) - min(j.created_at for j in jobs)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                await asyncio.wait_for(proc.wait(), 30)
            for log in logs:
                log.close()
        per_worker = Counter((j.lease_owner or "?").split(":")[1] for j in jobs)
        jobs = [j for j in jobs if j.id in set(job_ids)]
        first = sorted(jobs, key=lambda j: j.created_at)[:200]
        early = [((j.started_at or 0) - j.created_at) * 1000 for j in first if j.started_at]
        report(
            f"2. [{'PostgreSQL' if db_url else 'SQLite'}] {n}-job burst over two `personas worker` processes "
            f"(concurrency 100 each), fake API {delay:g} s/call",
            jobs,
            n,
            elapsed,
            submit_s,
            len(api.requests) - 20,
            **{
                "peak running at once": str(peak),
                "jobs per worker process (pid: n)": ", ".join(f"{k}: {v}" for k, v in per_worker.items()),
                "pickup p50 / p95, first 200 (free slots)": f"{pct(early, 50):.1f} / {pct(early, 95):.1f} ms",
                "mean queue wait, all": f"{statistics.mean(((j.started_at or 0) - j.created_at) for j in jobs):.2f} s",
            },
        )
    complete = sum(j.status is JobStatus.COMPLETE for j in jobs)
    return {
        f"{n}-job burst, two worker processes: done in": f"{elapsed:.2f} s ({n / elapsed:.1f} jobs/s)",
        "  submit burst": f"{n / submit_s:.0f} jobs/s",
        "  pickup p50 / p95, first 200": f"{pct(early, 50):.1f} / {pct(early, 95):.1f} ms",
        "  mean queue wait": f"{statistics.mean(((j.started_at or 0) - j.created_at) for j in jobs):.2f} s",
        "  lost / run twice": f"{n - complete} / {sum(j.attempts > 1 for j in jobs)}",
    }


def side_by_side(figures: dict[str, dict[str, str]]) -> None:
    """The same figures of each database in one table."""
    names = list(figures)
    rows = list(dict.fromkeys(row for values in figures.values() for row in values))
    width = max(len(row) for row in rows)
    cols = [max(len(name), *(len(values.get(row, "")) for row in rows)) for name, values in figures.items()]
    print("\nSQLite next to PostgreSQL")
    print((f"  {'':<{width}}  " + "  ".join(f"{name:<{col}}" for name, col in zip(names, cols, strict=True))).rstrip())
    for row in rows:
        cells = (f"{figures[name].get(row, '-'):<{col}}" for name, col in zip(names, cols, strict=True))
        print((f"  {row:<{width}}  " + "  ".join(cells)).rstrip())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--delay", type=float, default=2.0, help="fake API seconds per call")
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="sqlite")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        figures: dict[str, dict[str, str]] = {}
        with redis_process(tmp) as redis_url:
            if args.database in ("sqlite", "both"):
                figures["SQLite"] = await idle_pickup(50, tmp, redis_url)
                redis.Redis.from_url(redis_url).flushdb()
                await one_worker(args.concurrent, args.delay, tmp, redis_url)
                redis.Redis.from_url(redis_url).flushdb()
                figures["SQLite"].update(await two_processes(args.burst, args.delay, tmp, redis_url))
            if args.database in ("postgres", "both"):
                from tests.postgres_process import postgres_server

                with postgres_server() as pg:
                    redis.Redis.from_url(redis_url).flushdb()
                    figures["PostgreSQL"] = await idle_pickup(
                        50, tmp, redis_url, await fresh_database(pg.url, "bench_idle")
                    )
                    redis.Redis.from_url(redis_url).flushdb()
                    figures["PostgreSQL"].update(
                        await two_processes(
                            args.burst, args.delay, tmp, redis_url, await fresh_database(pg.url, "bench_burst")
                        )
                    )
        if len(figures) > 1:
            side_by_side(figures)


if __name__ == "__main__":
    asyncio.run(main())
