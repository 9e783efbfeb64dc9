"""First run of a new project: start → tools/list, and start → first search over the starters answered.

    python -m bench.readiness_bench [--runs 3]

Each run starts ``personas serve`` over stdio (the MCP SDK client, as an assistant starts it) in a
new, empty project folder, so its index holds only the shipped starter standards and the rules
found in the project, and repeats ``search_standards`` (every 20 ms) until an answer has state
``ready`` and results. The clock starts when the process is spawned. Two cases:

- warm embedding cache: ``PERSONAS_EMBEDDING_CACHE_DIR`` points at a cache that one earlier
  (uncounted) run filled, as it is for every project after a user's first;
- cold embedding cache: an empty cache folder each run (a user's very first project on a new
  machine): the starters' vectors come from the file shipped with them
  (:mod:`standards.index.starter_vectors`), the starters are chunked afresh;
- own standards, cold embedding cache: the same, in a project that already has three standards of
  its own (a cloned team repository on a new machine): their few chunks are embedded for the
  start-up copy (:data:`standards.index.bootstrap.EMBED_AT_MOST`).

The ONNX graph cache (exported once per machine by ``scripts/bootstrap``) is the user's as usual.
The project's packages are byte-compiled first, as an installed wheel (or ``scripts/bootstrap``) has
them: with ``PYTHONDONTWRITEBYTECODE`` set (CI shells) an editable install would otherwise compile
its ~130 modules again at every start (~200 ms).
Prints medians, the server process's CPU time at the tools/list answer and when the search was
answered (user + system, all threads: what the start costs apart from waiting for a core) and the
load average. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mcp import Client, StdioServerParameters

import mcp_server
from bench.latency_bench import child_pid, cpu_ms

PERSONAS = str(Path(sys.executable).with_name("personas"))
QUERY = "how do we rotate secrets"


@dataclass(frozen=True)
class Run:
    tools_list_ms: float
    tools_list_cpu_ms: float
    answered_ms: float
    server_cpu_ms: float
    load: float


OWN_STANDARD = """# Team rule {i}

## Why

Our team's rule number {i} about {domain}: keep it simple and reviewed.

## How

Do the {domain} work the way the team agreed, with tests.
"""


def write_own_standards(project: Path) -> None:
    """Three standards of the project's own, in the default standards folder."""
    for i, domain in enumerate(["security", "development", "testing"]):
        folder = project / ".agent-os" / "standards" / domain
        folder.mkdir(parents=True)
        (folder / f"team-rule-{i}.md").write_text(OWN_STANDARD.format(i=i, domain=domain), encoding="utf-8")


async def one_run(cache_dir: Path, *, own_standards: bool = False) -> Run:
    with tempfile.TemporaryDirectory(prefix="readiness-") as project:
        if own_standards:
            write_own_standards(Path(project))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_"))}
        env.pop("REDIS_URL", None)
        env.update(
            PERSONAS_PROJECT_ROOT=project, PERSONAS_LOG_LEVEL="WARNING", PERSONAS_EMBEDDING_CACHE_DIR=str(cache_dir)
        )
        params = StdioServerParameters(command=PERSONAS, args=["serve"], env=env)
        t0 = time.perf_counter()
        async with Client(params) as client:
            await client.list_tools()
            listed = time.perf_counter() - t0
            pid = child_pid("serve")
            listed_cpu = cpu_ms(pid) if pid else float("nan")
            while True:
                result = (await client.call_tool("search_standards", {"query": QUERY})).structured_content
                if result and result["status"]["state"] == "ready" and result["results"]:
                    break
                await asyncio.sleep(0.02)
            answered = time.perf_counter() - t0
            cpu = cpu_ms(pid) if pid else float("nan")
    return Run(listed * 1000, listed_cpu, answered * 1000, cpu, os.getloadavg()[0])


def report(label: str, runs: list[Run]) -> None:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    print(
        f"   {label}: start → tools/list p50 {med([r.tools_list_ms for r in runs]):.0f} ms "
        f"(server CPU {med([r.tools_list_cpu_ms for r in runs]):.0f} ms); "
        f"start → first search over starters answered p50 {med([r.answered_ms for r in runs]):.0f} ms "
        f"(server CPU {med([r.server_cpu_ms for r in runs]):.0f} ms; load {med([r.load for r in runs]):.1f}; "
        f"runs: {', '.join(f'{r.answered_ms:.0f}' for r in runs)} ms)"
    )


def compile_packages() -> Path:
    """Byte-compile the packages the server imports (where it imports them from); returns that folder."""
    root = Path(mcp_server.__file__).resolve().parents[1]
    for package in ("mcp_server", "worker", "personas", "standards"):
        compileall.compile_dir(root / package, quiet=1)
    return root


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = compile_packages()
    print(f"== new project: first run of `personas serve` ({args.runs} runs each, medians; bytecode of {root})")
    with tempfile.TemporaryDirectory(prefix="readiness-cache-") as shared:
        await one_run(Path(shared))  # fills the shared cache (not counted)
        warm = [await one_run(Path(shared)) for _ in range(args.runs)]
    report("warm embedding cache", warm)
    cold: list[Run] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="readiness-cache-") as empty:
            cold.append(await one_run(Path(empty)))
    report("cold embedding cache", cold)
    own: list[Run] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="readiness-cache-") as empty:
            own.append(await one_run(Path(empty), own_standards=True))
    report("own standards, cold embedding cache", own)


if __name__ == "__main__":
    asyncio.run(main())
