"""Uncached search_standards latency at two index sizes, through the path a user takes.

    python -m bench.latency_bench [--sizes 5000 20000] [--queries 200]

A temporary project's ``.agent-os/standards`` gets the evaluation corpora (the playbook and the
prepared public corpora) and ``personas index`` builds the index (subprocess, the CLI a user runs).
For each size, renamed copies of the corpora are added until the index has about that many
chunks and ``personas search`` brings the index up to date (the CLI's reconcile; copies reuse the
stored vectors of identical chunks). Then ``personas serve`` is started over stdio by the MCP SDK
client and every question of every evaluation set is sent once as ``search_standards`` (no answer
comes from the result cache). Prints round-trip p50/p95 per size, the CPU per search of the server
(with the part of it the server spends idle, measured for a few seconds before the searches) and of
the client, the RSS of the server and of a worker process (``bench.worker_probe``). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mcp import Client, StdioServerParameters

from bench.corpora import load_corpora
from standards.index.chunker import chunk_markdown
from standards.index.embedder import make_embedder

PERSONAS = str(Path(sys.executable).with_name("personas"))
REPO = Path(__file__).resolve().parents[1]
#: A folder of renamed copies ``fill`` made: ``<corpus>-copy<k>``.
COPY_FOLDER = re.compile(r"^(?P<corpus>.+)-copy(?P<k>[1-9]\d*)$")
#: One corpus file: corpus name, path in the corpus, text, chunks.
CorpusFile = tuple[str, Path, str, int]
#: Seconds the server's idle CPU is measured before the searches.
IDLE_SECONDS = 5.0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_ms(pid: int) -> float:
    """CPU time (user + system, all threads) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child_pid(command_word: str) -> int | None:
    """The process started by this one whose command line contains ``command_word``."""
    me = str(os.getpid())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            ppid = stat.rsplit(")", 1)[1].split()[1]
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if ppid == me and command_word in cmdline:
            return int(proc.name)
    return None


def sources() -> list[tuple[str, Path]]:
    return [(c.name, c.root) for c in load_corpora() if c.available]


def corpus_files() -> list[CorpusFile]:
    counter = make_embedder(None, backend="onnx")  # only its tokenizer is used (no model load)
    files: list[CorpusFile] = []
    for name, root in sources():
        for path in sorted(root.rglob("*.md")):
            text = path.read_text(encoding="utf-8")
            chunks = len(chunk_markdown(text, count_tokens=counter.count_tokens).chunks)
            files.append((name, path.relative_to(root), text, chunks))
    return files


def fill(standards: Path, target_chunks: int, files: list[CorpusFile] | None = None) -> tuple[int, int]:
    """Copies of the corpora under new folder names until about ``target_chunks`` chunks (the first
    copy is the corpora themselves). Copies have the same text, so a reconcile reuses their vectors.
    Copies beyond the target that an earlier run made (a larger size in a kept ``--project``) are
    deleted, so the project shrinks to the target rather than keep its larger size. Returns the
    chunks planned and the number of copied files deleted."""
    total = copy = 0
    files = corpus_files() if files is None else files
    planned: set[Path] = set()
    while total < target_chunks or copy == 0:
        for name, rel, text, chunks in files:
            if total >= target_chunks and copy > 0:
                break
            folder = name if copy == 0 else f"{name}-copy{copy}"
            out = standards / folder / rel
            planned.add(out)
            if not out.exists():
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(text, encoding="utf-8")
            total += chunks
        copy += 1
    return total, _remove_copies_beyond(standards, planned, {name for name, *_ in files})


def _remove_copies_beyond(standards: Path, planned: set[Path], corpora: set[str]) -> int:
    """Delete the Markdown files of copy folders (``<corpus>-copy<k>``, for these corpora only) that
    are not ``planned``, and the folders left empty; returns how many files were deleted."""
    removed = 0
    folders = sorted(standards.iterdir()) if standards.is_dir() else []
    for folder in folders:
        match = COPY_FOLDER.match(folder.name)
        if not folder.is_dir() or match is None or match["corpus"] not in corpora:
            continue
        for path in sorted(folder.rglob("*.md")):
            if path not in planned:
                path.unlink()
                removed += 1
        inner = sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for directory in [*inner, folder]:
            if not any(directory.iterdir()):
                directory.rmdir()
    return removed


def questions() -> list[str]:
    seen: list[str] = []
    for corpus in load_corpora():
        for q in corpus.questions:
            if q.question not in seen:
                seen.append(q.question)
    return seen


def project_env(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_")) and k != "REDIS_URL"}
    env["PERSONAS_PROJECT_ROOT"] = str(project)
    env["PERSONAS_LOG_LEVEL"] = "WARNING"
    return env


async def cli(project: Path, *args: str) -> tuple[str, float]:
    t0 = time.perf_counter()
    done = await asyncio.to_thread(
        subprocess.run, [PERSONAS, *args], env=project_env(project), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"personas {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout, time.perf_counter() - t0


async def measure(project: Path, queries: list[str]) -> dict[str, float]:
    env = project_env(project)
    params = StdioServerParameters(command=PERSONAS, args=["serve"], env=env)
    async with Client(params) as client:
        t0 = time.perf_counter()
        while True:
            result = (await client.call_tool("search_standards", {"query": "warm up"})).structured_content
            if result and result["status"]["state"] == "ready":
                chunks = float(result["status"]["chunks"])
                break
            await asyncio.sleep(0.1)
        ready_s = time.perf_counter() - t0
        # the first search of a table version loads the in-memory copy in the background (LanceDB answers
        # meanwhile, as after every write); measure the steady state after it
        await client.call_tool("search_standards", {"query": "warm up the in-memory copy"})
        await asyncio.sleep(5)
        pid = child_pid("serve")
        # what the server spends with nothing asked (the in-process worker polling Redis, the watcher,
        # timers): part of every run's CPU per search, which it would be without a single search too
        idle_cpu = cpu_ms(pid) if pid else float("nan")
        await asyncio.sleep(IDLE_SECONDS)
        idle_cpu = (cpu_ms(pid) - idle_cpu) / IDLE_SECONDS if pid else float("nan")
        wall: list[float] = []
        took: list[float] = []
        run_started = time.perf_counter()
        server_cpu = cpu_ms(pid) if pid else float("nan")
        client_cpu = time.process_time()
        for q in queries:
            t = time.perf_counter()
            result = (await client.call_tool("search_standards", {"query": q, "limit": 5})).structured_content
            wall.append((time.perf_counter() - t) * 1000)
            if result and not result.get("cached", False) and "took_ms" in result:
                took.append(float(result["took_ms"]))
        server_cpu = (cpu_ms(pid) - server_cpu) / len(queries) if pid else float("nan")
        idle_share = idle_cpu * (time.perf_counter() - run_started) / len(queries)
        client_cpu = (time.process_time() - client_cpu) * 1000 / len(queries)
        load = os.getloadavg()[0]
        rss = rss_mb(pid) if pid else float("nan")
        probe = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bench.worker_probe", *queries[:20]],
            env={**env, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            check=False,
        )
        worker = re.search(r"worker RSS (\d+) MB", probe.stdout)
    return {
        "chunks": chunks,
        "worker_rss": float(worker.group(1)) if worker else float("nan"),
        "ready_s": ready_s,
        "p50": pct(wall, 50),
        "p95": pct(wall, 95),
        "took_p50": pct(took, 50) if took else float("nan"),
        "rss": rss,
        "n": len(wall),
        "server_cpu": server_cpu,
        "idle_cpu": idle_cpu,
        "idle_share": idle_share,
        "client_cpu": client_cpu,
        "load": load,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--queries", type=int, default=200, help="distinct questions sent per size (at most all)")
    parser.add_argument("--project", type=Path, default=None, help="keep the project (and its index) here")
    args = parser.parse_args()
    if not sources():
        print("no corpus found (../shared/corpus or prepared corpora): nothing to measure")
        return
    queries = questions()[: args.queries]
    project = args.project or Path(tempfile.mkdtemp(prefix="latency-bench-"))
    standards = project / ".agent-os" / "standards"
    try:
        if not (project / ".agent-os" / "data").exists():
            fill(standards, 0)  # the corpora, once: `personas index` embeds them
            out, seconds = await cli(project, "index")
            print(f"== `personas index` of the corpora: {out.strip()} (wall {seconds:.0f} s)")
        print(
            f"== uncached search_standards over MCP stdio (`personas serve`); load {os.getloadavg()[0]:.1f}, "
            f"{len(queries)} distinct questions per size"
        )
        for size in sorted(args.sizes):
            planned, removed = fill(standards, size)
            if removed:
                print(
                    f"   target {size}: {project} held more chunks than that (copies from an earlier, larger run); "
                    f"deleted {removed} copied files beyond ~{planned} chunks (`personas search` drops them from "
                    "the index) so this size measures what it says"
                )
            _, seconds = await cli(project, "search", "warm up")  # CLI reconcile: the copies reuse vectors
            r = await measure(project, queries)
            print(
                f"   target {size} → {r['chunks']:.0f} chunks: p50 {r['p50']:.1f} ms  p95 {r['p95']:.1f} ms  "
                f"(in-server p50 {r['took_p50']:.1f} ms)  server RSS {r['rss']:.0f} MB  "
                f"worker RSS {r['worker_rss']:.0f} MB  (copies indexed by `personas search` in {seconds:.0f} s, "
                f"serve ready {r['ready_s']:.1f} s)\n"
                f"      CPU per search: server process {r['server_cpu']:.1f} ms (all threads), MCP client "
                f"{r['client_cpu']:.1f} ms; load average {r['load']:.1f} (wall time above includes waiting for a "
                f"core)\n      of the server's: ~{r['idle_share']:.2f} ms is what it spends idle ({r['idle_cpu']:.1f} "
                f"ms of CPU per second over {IDLE_SECONDS:.0f} s before the searches) for as long as a search took"
            )
    finally:
        if args.project is None:
            shutil.rmtree(project, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
