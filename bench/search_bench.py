"""Benchmark of the standards index on the engineering playbook (prints numbers, asserts nothing).

Run: ``.venv/bin/python -m bench.search_bench [--corpus PATH] [--copies 5] [--edits 20] [--raw-sample N]``

Measures, on a temporary copy of ../shared/corpus/engineering-playbook:
cold build (chunks/s) against the raw model throughput on the same chunks, restart with
nothing changed, search latency on the corpus and on a ≥10k-chunk synthetic corpus (the playbook
copied several times with different front matter, so vectors are real and reused),
saved→searchable latency through the watcher, process RSS, and retrieval quality (Recall@1,
Recall@5, MRR@10 over files) for vector-only and hybrid search.

Search latency is reported in two parts. After every write a searcher's in-memory copy of the
table (:mod:`standards.index.memory_vectors`) loads again in the background and LanceDB answers
meanwhile; a writer without a watcher (these restarts, a CLI) loads it with its first search, so
the bench's restarts show that window: how many searches fell into it, for how long and how slow
("first searches"). A server's writer (it watches) loads the copy after the start's reconcile, so
only searches arriving in the first seconds after a start see it there. "Warm search" is measured
once the copy has loaded, as nearly every search of a server is (``bench.latency_bench`` waits for
it too), with the process CPU per search. The search mode is switched without clearing the
searcher's caches: the result cache is keyed by mode, and clearing it drops the in-memory copy too
(what a rebuild does), which a server never does between two searches.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp_server.collector import freeze_startup_objects
from standards import IndexConfig, IndexReader, IndexSearcher, IndexWriter, StandardsSource
from standards.index.chunker import chunk_markdown
from standards.index.embedder import Embedder, make_embedder
from standards.index.indexer import _title_from_name
from standards.index.models import SearchMode

REPO = Path(__file__).resolve().parents[1]

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "engineering-playbook"
QUESTIONS = REPO / "bench" / "data" / "playbook_questions.json"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def rss_mb() -> tuple[float, float]:
    current = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            current = int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return current, peak


def load_questions() -> list[dict[str, Any]]:
    if not QUESTIONS.is_file():
        return []
    data = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    items = data["questions"] if isinstance(data, dict) else data
    return [q for q in items if q.get("question") and q.get("files")]


def config_for(roots: list[Path], index_dir: Path, mode: SearchMode = "hybrid") -> IndexConfig:
    return IndexConfig(
        sources=[StandardsSource(root=r, kind="project") for r in roots], index_dir=index_dir, search_mode=mode
    )


async def timed_searches(index: IndexSearcher, queries: list[str]) -> tuple[list[float], list[float]]:
    internal: list[float] = []
    wall: list[float] = []
    for q in queries:
        t0 = time.perf_counter()
        response = await index.search(q, limit=5)
        wall.append((time.perf_counter() - t0) * 1000)
        internal.append(response.took_ms)
    return internal, wall


async def first_searches(index: IndexSearcher, bound: int = 1000) -> str:
    """Distinct searches right after a start until the in-memory copy has loaded (LanceDB answers
    them meanwhile, as after every write); a line saying how many, how slow and for how long."""
    memory = index._vectors  # a private handle: benches and tests only
    took: list[float] = []
    t0 = time.perf_counter()
    while memory._snapshot is None and len(took) < bound:  # the first search starts the copy's load
        took.append((await index.search(f"search while the copy loads {len(took)}", limit=5)).took_ms)
    seconds = time.perf_counter() - t0
    await memory.wait_loaded()
    if not took:
        return "none answered by LanceDB: the in-memory copy had loaded before the first search"
    return (
        f"{len(took)} searches answered by LanceDB in the {seconds:.2f} s until the in-memory copy loaded: "
        f"median {pct(took, 50):.1f} ms, 95th percentile {pct(took, 95):.1f} ms, max {max(took):.1f} ms"
    )


async def warm_searches(index: IndexSearcher, queries: list[str]) -> tuple[list[float], list[float], float]:
    """``timed_searches`` once the in-memory copy is loaded, plus the process CPU per search (ms)."""
    await index._vectors.wait_loaded()
    cpu = time.process_time()
    internal, wall = await timed_searches(index, queries)
    return internal, wall, (time.process_time() - cpu) * 1000 / len(queries)


def synthesize(corpus: Path, dest: Path, copies: int) -> None:
    """``copies`` extra copies of every file, differing only in front matter tags and name."""
    for path in sorted(corpus.rglob("*.md")):
        rel = path.relative_to(corpus)
        text = path.read_text(encoding="utf-8")
        for k in range(1, copies + 1):
            target = dest / rel.parent / f"{rel.stem}-v{k}.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            if text.startswith("---\n"):
                target.write_text(text, encoding="utf-8")
            else:
                target.write_text(f"---\ntags: [variant-{k}]\n---\n{text}", encoding="utf-8")


async def quality(config: IndexConfig, embedder: Embedder, questions: list[dict[str, Any]]) -> None:
    print("\n== retrieval quality (files; a question counts as found if any expected file is ranked)")
    print(f"   {len(questions)} questions from {QUESTIONS.relative_to(REPO)}")
    for mode in ("vector", "hybrid"):
        reader = IndexReader(config.model_copy(update={"search_mode": mode}), embedder)
        await reader.start()
        r1 = r5 = 0
        mrr = 0.0
        for q in questions:
            response = await reader.search(q["question"], limit=40)
            files: list[str] = []
            for hit in response.results:
                if hit.file not in files:
                    files.append(hit.file)
            files = files[:10]
            expected = set(q["files"])
            rank = next((i for i, f in enumerate(files, start=1) if f in expected), None)
            if rank is not None:
                r1 += rank == 1
                r5 += rank <= 5
                mrr += 1.0 / rank
        n = len(questions)
        print(f"   {mode:6s}  Recall@1 {r1 / n:.3f}  Recall@5 {r5 / n:.3f}  MRR@10 {mrr / n:.3f}")
        await reader.stop()


async def freshness(config: IndexConfig, embedder: Embedder, files: list[Path], edits: int) -> None:
    index = IndexWriter(config, embedder)
    await index.start(watch=True)
    await index.wait_ready(timeout=600)
    await index._wait_idle()
    changed = asyncio.Event()
    index.add_listener(lambda _files: changed.set())
    rng = random.Random(7)
    latencies: list[float] = []
    for i in range(edits):
        path = rng.choice(files)
        marker = f"freshnessmarker{i}x{rng.randrange(10**6)}"
        t0 = time.perf_counter()
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"\n\nEdited for the benchmark: {marker}.\n")
        deadline = t0 + 10
        found = False
        while not found and time.perf_counter() < deadline:
            changed.clear()
            response = await index.search(marker, limit=3)
            found = any(marker in hit.text for hit in response.results)
            if not found:
                try:
                    await asyncio.wait_for(changed.wait(), max(0.0, deadline - time.perf_counter()))
                except TimeoutError:
                    break
        latencies.append((time.perf_counter() - t0) * 1000 if found else float("inf"))
    await index.stop()
    ok = [v for v in latencies if v != float("inf")]
    print(f"\n== saved → searchable ({edits} edits, debounce {config.debounce_seconds * 1000:.0f} ms)")
    if ok:
        print(
            f"   p50 {pct(ok, 50):.0f} ms   p95 {pct(ok, 95):.0f} ms   max {max(ok):.0f} ms   missed {edits - len(ok)}"
        )
    else:
        print("   no edit became searchable")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--copies", type=int, default=4, help="extra copies for the ≥10k-chunk corpus")
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--raw-sample", type=int, default=0, help="chunks for the raw-throughput run (0 = all)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # As `personas serve` (and the worker) do: what start-up built stays out of full collections, and the
    # first in-memory copy freezes once more; without it every full collection rescans ~140k objects
    # (a 100-350 ms pause every ~100 searches at ~11.7k chunks: the p95 of the synthetic corpus).
    freeze_startup_objects()
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}")
        return
    questions = load_questions()
    work = Path(tempfile.mkdtemp(prefix="standards-bench-"))
    try:
        root = work / "playbook"
        shutil.copytree(args.corpus, root)
        n_files = len(list(root.rglob("*.md")))
        embedder = make_embedder(None)
        t0 = time.perf_counter()
        embedder.embed(["load the model"])
        load_s = time.perf_counter() - t0
        print(f"== corpus: {n_files} files, {sum(p.stat().st_size for p in root.rglob('*.md')) / 1e6:.2f} MB")
        print(f"   model load {load_s:.2f} s")

        # -- cold build
        config = config_for([root], work / "index")
        index = IndexWriter(config, embedder)
        await index.start(watch=False)
        report = await index.rebuild()
        await index._wait_idle()
        await index.stop()
        print("\n== cold build")
        print(
            f"   {report.files} files, {report.chunks} chunks in {report.seconds:.1f} s "
            f"= {report.chunks_per_second:.1f} chunks/s"
        )
        current, peak = rss_mb()
        print(f"   RSS after build: {current:.0f} MB (peak {peak:.0f} MB)")

        # -- raw model throughput on the same chunks
        texts: list[str] = []
        for path in sorted(root.rglob("*.md")):
            doc = chunk_markdown(
                path.read_text(encoding="utf-8"),
                default_title=_title_from_name(path.relative_to(root).as_posix()),
                count_tokens=embedder.count_tokens,
                max_tokens=embedder.max_tokens,
            )
            texts.extend(c.embed_text for c in doc.chunks)
        if args.raw_sample:
            texts = random.Random(1).sample(texts, min(args.raw_sample, len(texts)))
        t0 = time.perf_counter()
        await asyncio.to_thread(embedder.embed, texts)
        raw_s = time.perf_counter() - t0
        raw_cps = len(texts) / raw_s
        print(f"   raw model.encode on {len(texts)} of the same chunks: {raw_s:.1f} s = {raw_cps:.1f} chunks/s")
        print(f"   build / raw throughput = {report.chunks_per_second / raw_cps * 100:.1f} %")

        # -- restart, nothing changed
        index = IndexWriter(config, embedder)
        t0 = time.perf_counter()
        await index.start(watch=False)
        status = await index.wait_ready(timeout=600)
        restart_s = time.perf_counter() - t0
        print(f"\n== restart, nothing changed ({status.files_total} files): {restart_s:.2f} s to ready")

        # -- search on the corpus: the first searches after the start, then warm
        queries = [q["question"] for q in questions] or ["how to name branches"] * 50
        first = await first_searches(index)
        internal, wall, cpu = await warm_searches(index, queries)
        cached_internal, _ = await timed_searches(index, queries)
        print(
            f"\n== first searches after the restart (no watcher: the copy loads with the first search, as after "
            f"every write), {report.chunks} chunks, mode {config.search_mode}"
        )
        print(f"   {first}")
        print(f"\n== warm search, {report.chunks} chunks, {len(queries)} distinct queries, mode {config.search_mode}")
        print(
            f"   p50 {pct(internal, 50):.1f} ms  p95 {pct(internal, 95):.1f} ms  (wall p50 {pct(wall, 50):.1f} ms)"
            f"   cached p50 {pct(cached_internal, 50):.2f} ms   CPU per search {cpu:.1f} ms   "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        await index.stop()

        await quality(config, embedder, questions)
        await freshness(config, embedder, sorted(root.rglob("*.md")), args.edits)

        # -- ≥10k chunks
        big = work / "big"
        shutil.copytree(root, big)
        synthesize(root, big, args.copies)
        # start from the playbook's index: the copies' chunks reuse its vectors (same text)
        shutil.copytree(work / "index", work / "index-big")
        big_config = config_for([big], work / "index-big")
        index = IndexWriter(big_config, embedder)
        t0 = time.perf_counter()
        await index.start(watch=False)
        status = await index.wait_ready(timeout=1800)
        build_s = time.perf_counter() - t0
        await index._wait_idle()
        await index.stop()
        index = IndexWriter(big_config, embedder)
        t0 = time.perf_counter()
        await index.start(watch=False)
        status = await index.wait_ready(timeout=600)
        restart_s = time.perf_counter() - t0
        print(f"\n== synthetic corpus: {status.files_total} files, {status.chunks} chunks (built in {build_s:.1f} s)")
        print(f"   restart, nothing changed: {restart_s:.2f} s to ready")
        print(f"   first searches after the restart (hybrid, no watcher): {await first_searches(index)}")
        for mode in ("hybrid", "vector"):
            # the result cache is keyed by mode: nothing to clear (clearing would drop the in-memory copy)
            index.config = big_config.model_copy(update={"search_mode": mode})
            internal, wall, cpu = await warm_searches(index, queries)
            print(
                f"   warm search {mode:6s}: p50 {pct(internal, 50):.1f} ms  p95 {pct(internal, 95):.1f} ms"
                f"  (wall p50 {pct(wall, 50):.1f} ms)  CPU per search {cpu:.1f} ms"
                f"  load average {os.getloadavg()[0]:.1f}"
            )
        await index.stop()

        current, peak = rss_mb()
        print(f"\n== process RSS: {current:.0f} MB now, {peak:.0f} MB peak")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
