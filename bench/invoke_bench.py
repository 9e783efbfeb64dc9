"""Cold start to tools/list, and invoke_* / check_persona_job round trips, over stdio.

Runs `personas serve` exactly as an MCP client would (embedded Redis + in-process worker, no API
key so jobs finish as briefings). Prints a table; writes nothing else. Usage:
    .venv/bin/python -m bench.invoke_bench [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mcp import Client, StdioServerParameters


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(calls: int, no_worker: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_")) and k != "REDIS_URL"
        }
        env["PERSONAS_PROJECT_ROOT"] = tmp
        env["PERSONAS_LOG_LEVEL"] = "WARNING"
        env["PERSONAS_TOOLS"] = "all"
        args = ["serve", "--no-worker"] if no_worker else ["serve"]
        params = StdioServerParameters(command=str(Path(sys.executable).with_name("personas")), args=args, env=env)
        t0 = time.perf_counter()
        async with Client(params) as client:
            tools = await client.list_tools()
            cold = time.perf_counter() - t0
            # Steady state: let the background index build (model load + embedding) finish first.
            while True:
                status = (await client.call_tool("search_standards", {"query": "warm up"})).structured_content
                if status and status["status"]["state"] == "ready":
                    break
                await asyncio.sleep(0.2)
            ready = time.perf_counter() - t0
            await asyncio.sleep(5)  # let the index's post-build optimize (FTS + compaction) finish
            search_ms: list[float] = []
            for i in range(calls):
                t = time.perf_counter()
                await client.call_tool("search_standards", {"query": f"how do we rotate secrets {i % 20}"})
                search_ms.append((time.perf_counter() - t) * 1000)
            invoke_ms: list[float] = []
            job_ids: list[str] = []
            for i in range(calls):
                t = time.perf_counter()
                result = await client.call_tool("invoke_security", {"task": f"review change {i}", "context": "app.py"})
                invoke_ms.append((time.perf_counter() - t) * 1000)
                job_ids.append((result.structured_content or {})["job_id"])
            check_ms: list[float] = []
            for job_id in job_ids:
                t = time.perf_counter()
                await client.call_tool("check_persona_job", {"job_id": job_id})
                check_ms.append((time.perf_counter() - t) * 1000)
    rows = [
        ("server cold start → tools/list", f"{cold * 1000:.0f} ms", f"{len(tools.tools)} tools"),
        (
            f"invoke_security round trip (n={calls})",
            f"p50 {pct(invoke_ms, 50):.2f} ms",
            f"p99 {pct(invoke_ms, 99):.2f} ms",
        ),
        (
            f"check_persona_job round trip (n={calls})",
            f"p50 {pct(check_ms, 50):.2f} ms",
            f"p99 {pct(check_ms, 99):.2f} ms",
        ),
        ("invoke mean", f"{statistics.mean(invoke_ms):.2f} ms", ""),
        ("start → standards index ready (universal, real model)", f"{ready * 1000:.0f} ms", ""),
        (
            f"search_standards round trip, 20 distinct queries (n={calls})",
            f"p50 {pct(search_ms, 50):.2f} ms",
            f"p95 {pct(search_ms, 95):.2f} ms",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    for name, a, b in rows:
        print(f"{name:<{width}}  {a:>16}  {b}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument(
        "--no-worker", action="store_true", help="Queue only: measure the calls without jobs running alongside."
    )
    args = parser.parse_args()
    asyncio.run(run(args.calls, args.no_worker))


if __name__ == "__main__":
    main()
