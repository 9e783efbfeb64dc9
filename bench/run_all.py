"""Run the benches, print one table of the headline metrics against their targets, save it as JSON.

    bench/run [--quick]

Each bench is a script that prints its own detailed report; this runner runs them one after
the other (they must not compete for the 2 cores), pulls the headline numbers out of their
reports and prints them against the targets. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass(frozen=True)
class Metric:
    name: str
    bench: str
    pattern: str
    target: str


METRICS = [
    Metric("server cold start → tools/list (stdio)", "invoke", r"cold start → tools/list\s+(\d+ ms)", "≤ 1 s"),
    Metric(
        "invoke_* round trip via MCP client (queue only, --no-worker)",
        "invoke_queue",
        r"invoke_security round trip.*?(p50 [\d.]+ ms\s+p99 [\d.]+ ms)",
        "p50 ≤ 5 ms, p99 ≤ 20 ms",
    ),
    Metric(
        "invoke_* round trip, each job running alongside",
        "invoke",
        r"invoke_security round trip.*?(p50 [\d.]+ ms\s+p99 [\d.]+ ms)",
        "—",
    ),
    Metric("check_persona_job round trip", "invoke", r"check_persona_job round trip.*?(p50 [\d.]+ ms)", "p50 ≤ 3 ms"),
    Metric(
        "search_standards via MCP (universal)",
        "invoke",
        r"search_standards round trip.*?(p50 [\d.]+ ms\s+p95 [\d.]+ ms)",
        "p50 ≤ 15 ms, p95 ≤ 30 ms",
    ),
    Metric("search, corpus, warm", "search", r"== warm search.*?\n\s*(.*?p50.*?)\n", "p50 ≤ 15 ms, p95 ≤ 30 ms"),
    Metric(
        "search, ≥10k chunks, warm",
        "search",
        r"== synthetic corpus.*?\n(?:.*\n)*?\s*warm search hybrid\s*:\s*(.*?p50.*?)\n",
        "p50 ≤ 15 ms, p95 ≤ 30 ms",
    ),
    Metric(
        "search, ≥10k chunks, searches while the in-memory copy loads (restart without watcher)",
        "search",
        r"first searches after the restart \(hybrid, no watcher\): (.*)\n",
        "—",
    ),
    Metric(
        "in-memory copy reload after a one-file write, ≥10k chunks (and after its fold)",
        "reload",
        r"after write 1\s+(wall\s+\d+ ms\s+process CPU\s+\d+ ms).*\n"
        r"\s*after its fold 1\s+(wall\s+\d+ ms\s+process CPU\s+\d+ ms)",
        "—",
    ),
    Metric("search 0.5 s after a write, ≥10k chunks", "reload", r"a search 0.5 s after a write: (.*?) \(", "—"),
    Metric("file saved → searchable", "search", r"== saved → searchable.*?\n\s*(.*?p95.*?)\n", "p95 ≤ 1 s"),
    Metric("cold build vs raw model throughput", "search", r"build / raw throughput = ([\d.]+ %)", "≥ 90 %"),
    Metric(
        "restart, nothing changed",
        "search",
        r"== restart, nothing changed \((\d+ files)\): ([\d.]+ s)",
        "≤ 3 s (1k files)",
    ),
    Metric("restart, nothing changed (synthetic)", "search", r"restart, nothing changed: ([\d.]+ s)", "≤ 3 s"),
    Metric("retrieval quality (hybrid)", "search", r"hybrid\s+(Recall@1 .*)", "—"),
    Metric("retrieval quality (vector)", "search", r"vector\s+(Recall@1 .*)", "—"),
    Metric("indexer process RSS", "search", r"== process RSS: (.*)", "—"),
    Metric(
        "queue pickup latency (idle worker)", "jobs", r"p50 / p95 / max\s+([\d.]+ / [\d.]+ / [\d.]+ ms)", "p50 ≤ 50 ms"
    ),
    Metric(
        "concurrent jobs, one worker",
        "jobs",
        r"1\. (\d+ concurrent jobs).*\n(?:.*\n)*?\s*peak running at once\s+(\d+)",
        "≥ 100, no loss",
    ),
    Metric(
        "  … lost / run twice", "jobs", r"1\. .*\n(?:.*\n)*?\s*lost \(not complete\) / run twice\s+(\d+ / \d+)", "0 / 0"
    ),
    Metric(
        "500-job burst, two workers", "jobs", r"2\. .*\n(?:.*\n)*?\s*completion time.*?\s([\d.]+ s)\n", "nothing lost"
    ),
    Metric(
        "  … lost / run twice", "jobs", r"2\. .*\n(?:.*\n)*?\s*lost \(not complete\) / run twice\s+(\d+ / \d+)", "0 / 0"
    ),
    Metric(
        "tools/list bytes, default profile",
        "tools",
        r"tools/list developer \(each\)\s+\d+ tools\s+([\d,]+ B)",
        "≤ 15,000 B",
    ),
    Metric("tools/list bytes, all tools", "tools", r"tools/list all \(each\)\s+\d+ tools\s+([\d,]+ B)", "—"),
    *[
        Metric(
            f"search quality, {name} (R@1/R@5/MRR@10)",
            "quality",
            rf"{name}\s+\w+\s+(default [\d.]+/[\d.]+/[\d.]+ \| vector [\d.]+/[\d.]+/[\d.]+ \(n=\d+\))",
            "≥ 0.85/0.98/0.90, > vector",
        )
        for name in (
            "google-eng-practices",
            "microsoft-graph-api",
            "zalando-restful-api",
            "gds-way",
            "engineering-playbook",
        )
    ],
    *[
        Metric(
            f"search_standards uncached over MCP, ~{size // 1000}k chunks",
            "latency",
            rf"target {size} → (\d+ chunks): (p50 [\d.]+ ms\s+p95 [\d.]+ ms)",
            "p50 ≤ 10 ms, p95 ≤ 25 ms",
        )
        for size in (5000, 20000)
    ],
    *[
        Metric(
            f"  … CPU per search, ~{size // 1000}k chunks (server process; MCP client)",
            "latency",
            rf"target {size} → .*\n\s*CPU per search: server process ([\d.]+ ms) \(all threads\), "
            r"MCP client ([\d.]+ ms); (load average [\d.]+)",
            "—",
        )
        for size in (5000, 20000)
    ],
    Metric(
        "new project: start → first search over starters answered (warm embedding cache)",
        "readiness",
        r"warm embedding cache: .*?answered (p50 \d+ ms) \((server CPU \d+ ms); (load [\d.]+)",
        "≤ 2 s",
    ),
    Metric(
        "new project: start → first search over starters answered (cold embedding cache)",
        "readiness",
        r"\n\s*cold embedding cache: .*?answered (p50 \d+ ms) \((server CPU \d+ ms); (load [\d.]+)",
        "≤ 2 s",
    ),
    Metric(
        "… a project with 3 standards of its own (cold embedding cache)",
        "readiness",
        r"own standards, cold embedding cache: .*?answered (p50 \d+ ms) \((server CPU \d+ ms); (load [\d.]+)",
        "—",
    ),
    Metric("server RSS after searches (~20k chunks)", "latency", r"target 20000 → .*?server RSS (\d+ MB)", "≤ 800 MB"),
    Metric("worker RSS after searches (~20k chunks)", "latency", r"target 20000 → .*?worker RSS (\d+ MB)", "≤ 800 MB"),
    Metric("approval → searchable", "approval", r"approval sent → .*?(p50.*?)(?:\s+\(target|\n)", "p95 ≤ 1 s"),
]


def run_bench(name: str, args: list[str]) -> tuple[str, float]:
    started = time.perf_counter()
    sys.stderr.write(f"bench/run: {name} …\n")
    result = subprocess.run(
        [PYTHON, "-m", f"bench.{name.split('_', maxsplit=1)[0]}_bench", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    output = result.stdout + (f"\n[exit {result.returncode}]\n{result.stderr[-2000:]}" if result.returncode else "")
    return output, time.perf_counter() - started


def extract(metric: Metric, output: str) -> str:
    match = re.search(metric.pattern, output)
    if not match:
        return "n/a"
    return " ".join(" ".join(group.split()) for group in match.groups() if group)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs (fewer calls and jobs)")
    args = parser.parse_args()
    plans = {
        "invoke": ["--calls", "50" if args.quick else "200"],
        "invoke_queue": ["--calls", "50" if args.quick else "200", "--no-worker"],
        "search": ["--copies", "1", "--edits", "5"] if args.quick else [],
        "reload": ["--copies", "1", "--rounds", "1"] if args.quick else [],
        "jobs": ["--concurrent", "100", "--burst", "200"] if args.quick else [],
        "approval": ["--approvals", "5" if args.quick else "20"],
        "quality": ["--fast"],
        "latency": ["--queries", "50"] if args.quick else [],
        "readiness": ["--runs", "1" if args.quick else "3"],
        "tools": [],
    }
    outputs: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for name, bench_args in plans.items():
        outputs[name], seconds[name] = run_bench(name, bench_args)
    rows = [(m.name, extract(m, outputs[m.bench]), m.target) for m in METRICS]
    machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    width = max(len(r[0]) for r in rows)
    print(f"agent-personas benchmarks — {machine}")
    print(f"{'metric'.ljust(width)}  {'result':<44}  target")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:<44}  {target}")
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO, check=False)
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    path = results / time.strftime("%Y%m%d-%H%M%S.json")
    path.write_text(
        json.dumps(
            {
                "machine": machine,
                "git": rev.stdout.strip(),
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "metrics": [{"metric": n, "result": v, "target": t} for n, v, t in rows],
                "seconds": seconds,
                "outputs": outputs,
            },
            indent=2,
        )
    )
    print(f"\nfull reports: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
