"""What an embedding model costs a user: load time, RSS, query embedding, build throughput.

    python -m bench.model_costs [--model PATH] [--backend onnx-int8|onnx|torch] [--chunks 300]

Run one configuration per process (RSS is the process's). Query: every evaluation question
embedded alone (a one-text batch, the search path) in a hot loop after 5 warm-ups; CPU and wall
milliseconds per query. Build: the zalando corpus's chunk texts, cut as the default model cuts
them (its tokenizer, 256 word pieces), embedded 256 texts a call sorted by length as the indexer
does; chunks per second of wall time and per CPU-second (all threads). RSS after loading the model
and one query (what a searching server holds for it), and after the batches (an indexing process).
``--model`` is a sentence-transformers folder loaded by path, hub offline. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

from bench.corpora import load_corpora
from standards.index.chunker import chunk_markdown
from standards.index.embedder import make_embedder


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="a sentence-transformers folder (default: bundled)")
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--chunks", type=int, default=300, help="zalando chunks embedded for the build rate")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    corpora = [c for c in load_corpora(None) if c.available]
    questions = [q.question for c in corpora for q in c.questions]
    default = make_embedder(None, backend="torch")  # only its tokenizer: the default chunking
    texts: list[str] = []
    for corpus in (c for c in corpora if c.name.startswith("zalando")):
        for path in sorted(corpus.root.rglob("*.md")):
            doc = chunk_markdown(path.read_text(encoding="utf-8"), count_tokens=default.count_tokens)
            texts.extend(chunk.embed_text for chunk in doc.chunks)
    texts = texts[: args.chunks]
    if not questions or not texts:
        print("no evaluation corpora prepared (bench/prepare_corpora.py)")
        return
    before = rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    embedder = make_embedder(args.model, backend=args.backend)
    embedder.embed(["warm up"])
    load_wall, load_cpu = time.perf_counter() - wall, time.process_time() - cpu
    loaded = rss_mb()
    for question in questions[:5]:
        embedder.embed([question])
    walls, cpus = [], []
    for question in questions:
        wall, cpu = time.perf_counter(), time.process_time()
        embedder.embed([question])
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    ordered = sorted(texts, key=default.count_tokens)
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(ordered), 256):
        embedder.embed(ordered[start : start + 256])
    build_wall, build_cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"== {embedder.name} [{args.backend}], {embedder.dimension} dimensions")
    print(f"   load + first query: {load_wall:.1f} s wall, {load_cpu:.1f} s CPU")
    print(
        f"   query (one text, n={len(questions)}): CPU p50 {statistics.median(cpus):.2f} ms, mean "
        f"{statistics.mean(cpus):.2f} ms; wall p50 {statistics.median(walls):.2f} ms"
    )
    print(
        f"   build ({len(texts)} chunks, batches of 256): {len(texts) / build_cpu:.1f} chunks per CPU-second, "
        f"{len(texts) / build_wall:.1f} chunks/s wall"
    )
    print(
        f"   RSS: {before:.0f} MB before the model, {loaded:.0f} MB after load + one query, "
        f"{rss_mb():.0f} MB after the batches (peak {peak:.0f} MB)"
    )


if __name__ == "__main__":
    main()
