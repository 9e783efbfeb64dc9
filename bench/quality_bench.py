"""Retrieval quality of every ranking candidate on every evaluation corpus (prints a table).

    python -m bench.quality_bench [--backend torch|onnx|onnx-int8] [--corpus NAME ...] [--split tune|judge|all]
                                  [--fast] [--chunking VARIANT] [--model PATH [--own-chunking]]

Each corpus is indexed the way ``personas index`` does it (an IndexWriter reconciles, then the
FTS index folded in). Then every question is embedded once and asked of the real index: the
vector and full-text candidate lists come from LanceDB exactly as a search gets them, and each
ranking candidate orders those lists (pure functions from ``standards.index.ranking``; the same
code the server runs). Candidates that need vectors the index does not store (a summary vector
per document, headings-only vectors) embed them here, so they can be judged before anyone pays
for storing them. ``--chunking`` builds the indexes with another chunk size, overlap or chunk header
(``bench/chunk_variants.py``). ``--model PATH`` judges another sentence-transformers model folder
(loaded by path, hub offline), chunked exactly as the bundled default model chunks (its tokenizer
and 256-token budget) unless ``--own-chunking`` (then the model's own tokenizer and input limit).
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import chunk_variants
from bench.corpora import Corpus, Quality, Question, load_corpora, score_rankings
from bench.quality_candidates import DEFAULT, DEPTH, NEEDS_EXTRAS, PRF_BETAS, PRF_TOP, Case, Extra, candidates
from standards import IndexConfig, IndexReader, IndexWriter, StandardsSource
from standards.index import ranking
from standards.index.embedder import Embedder
from standards.index.store import RESULT_COLUMNS

#: Splits scored: both, each, and judge per question batch (``judge-1``, ``judge-2``).
SPLITS = ("tune", "judge", "all", "judge-1", "judge-2")


def in_split(q: Question, split: str) -> bool:
    name, _, batch = split.partition("-")
    return name == "all" or (name == q.split and batch in ("", str(q.batch)))


async def build_index(corpus: Corpus, work: Path, embedder: Embedder) -> tuple[IndexReader, float]:
    """Build like ``personas index`` (reconcile, then FTS folded), then open a reader like ``serve``."""
    config = IndexConfig(
        sources=[StandardsSource(root=corpus.root, kind="project")], index_dir=work / corpus.name, search_mode="vector"
    )
    writer = IndexWriter(config, embedder)
    t0 = time.perf_counter()
    await writer.start(watch=False)  # reconciles: a kept index only re-embeds changed files
    await writer.wait_ready(timeout=3600)
    await writer._wait_idle()
    await writer._store.optimize()  # fold every row into the FTS index (the CLI path must do the same)
    seconds = time.perf_counter() - t0
    await writer.stop()
    reader = IndexReader(config, embedder)
    await reader.start()
    return reader, seconds


def summary_text(title: str, headings: list[str]) -> str:
    return (title + ". " + "; ".join(h for h in headings if h != title))[:2000]


async def extras(index: IndexReader, embedder: Embedder) -> Extra:
    table = index._store._t()
    data = (await table.query().select(["id", "file", "title", "heading_path"]).to_arrow()).to_pylist()
    heads: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    for row in data:
        path = list(row["heading_path"] or [])
        titles[row["file"]] = row["title"]
        for h in path[1:] or path:
            if h not in heads.setdefault(row["file"], []):
                heads[row["file"]].append(h)
    doc_ids = sorted(heads)
    doc_vecs = np.asarray(embedder.embed([summary_text(titles[d], heads[d]) for d in doc_ids]), dtype=np.float32)
    head_texts = [" > ".join(row["heading_path"] or [row["title"]]) for row in data]
    head_vecs = np.asarray(embedder.embed(head_texts), dtype=np.float32)
    return Extra(doc_ids, doc_vecs, {str(row["id"]): v for row, v in zip(data, head_vecs, strict=True)})


async def chunk_vectors(index: IndexReader) -> dict[str, np.ndarray]:
    table = index._store._t()
    data = (await table.query().select(["id", "vector"]).to_arrow()).to_pylist()
    return {str(row["id"]): np.asarray(row["vector"], dtype=np.float32) for row in data}


async def headings_table(index: IndexReader, where: Path) -> Any:
    """A side table with a full-text index over each chunk's title and heading path alone."""
    import lancedb
    from lancedb.index import FTS

    table = index._store._t()
    data = (await table.query().select([*RESULT_COLUMNS, "title"]).to_arrow()).to_pylist()
    for row in data:
        path = list(row["heading_path"] or [])
        row["heads"] = " > ".join(path if path and path[0] == row["title"] else [row["title"], *path])
    conn = await lancedb.connect_async(str(where))
    side = await conn.create_table("headings", data=data, mode="overwrite")
    await side.create_index("heads", config=FTS())
    return side


async def _text_query(table: Any, text: str, limit: int) -> list[dict[str, Any]]:
    if not text.strip():
        return []
    query = table.query().nearest_to_text(text, columns="heads")
    rows: list[dict[str, Any]] = await query.select([*RESULT_COLUMNS, "_score"]).limit(limit).to_list()
    return rows


async def evaluate(corpus: Corpus, work: Path, embedder: Embedder, *, fast: bool) -> dict[str, dict[str, Quality]]:
    index, build_s = await build_index(corpus, work, embedder)
    chunks = await index._store.count_rows()
    sys.stderr.write(f"{corpus.name}: {chunks} chunks built in {build_s:.1f}s\n")
    no_extra = Extra([], np.zeros((0, embedder.dimension), dtype=np.float32), {})
    extra = no_extra if fast else await extras(index, embedder)
    headings = None if fast else await headings_table(index, work / f"{corpus.name}-headings")
    vectors = await chunk_vectors(index)
    cases: list[Case] = []
    for q in corpus.questions:
        qvec = np.asarray(embedder.embed([q.question])[0], dtype=np.float32)
        vrows = await index._store.vector_search(qvec.tolist(), None, DEPTH)
        trows = await index._store.text_search(ranking.fts_query_text(q.question), None, DEPTH)
        plain = ranking.fts_query_text(q.question, drop_question_words=True)
        prows = await index._store.text_search(plain, None, DEPTH)
        hrows = [] if headings is None else await _text_query(headings, plain, DEPTH)
        feedback = {}
        for beta in PRF_BETAS:  # pseudo-relevance feedback: the query moved towards its best chunks
            moved = qvec + beta * np.mean([vectors[str(r["id"])] for r in vrows[:PRF_TOP]], axis=0)
            moved /= float(np.linalg.norm(moved)) or 1.0
            feedback[beta] = await index._store.vector_search(moved.tolist(), None, DEPTH)
        case = Case(vrows, trows, qvec, extra, text_rows_plain=prows, head_rows=hrows)
        case.feedback_rows = feedback
        cases.append(case)
    await index.stop()
    out: dict[str, dict[str, Quality]] = {}
    for name, rank in candidates().items():
        if fast and name.startswith(NEEDS_EXTRAS):
            continue
        rankings = [rank(case) for case in cases]
        out[name] = {}
        for split in SPLITS:
            picked = [(r, q) for r, q in zip(rankings, corpus.questions, strict=True) if in_split(q, split)]
            if picked:
                out[name][split] = score_rankings([r for r, _ in picked], [q for _, q in picked])
    out["_meta"] = {"chunks": Quality(chunks, 0, 0, 0)}
    return out


def print_table(results: dict[str, dict[str, dict[str, Quality]]], split: str) -> None:
    names = [n for n in next(iter(results.values())) if n != "_meta"]
    width = max(len(n) for n in names)
    print(f"\n== retrieval quality, split '{split}' (R@1 / R@5 / MRR@10 over files)")
    header = "".join(f"  {c[:24]:<24}" for c in results)
    print(f"{'candidate'.ljust(width)}{header}")
    sizes = ""
    for r in results.values():
        n = r["vector"].get(split, Quality(0, 0, 0, 0)).n
        sizes += f"  {str(r['_meta']['chunks'].n) + ' chunks, n=' + str(n):<24}"
    print(f"{''.ljust(width)}{sizes}")
    for name in names:
        cells = ""
        for r in results.values():
            q = r.get(name, {}).get(split)
            cells += f"  {f'{q.r1:.2f} / {q.r5:.2f} / {q.mrr10:.2f}' if q else '—':<24}"
        print(f"{name.ljust(width)}{cells}")


def print_summary(results: dict[str, dict[str, dict[str, Quality]]], names: list[str]) -> None:
    """Default against vector-only per corpus on the judge split, per question batch and both
    (the playbook has only tune questions)."""
    print("\n== summary: default vs vector-only (judge split, batch 1 / batch 2 / both; playbook: tune)")
    for name in names:
        splits = ["judge-1", "judge-2", "judge"] if "judge" in results[name]["vector"] else ["tune"]
        for split in (s for s in splits if s in results[name]["vector"]):
            default = results[name][DEFAULT][split]
            vector = results[name]["vector"][split]
            print(
                f"   {name:<22} {split:<7} default {default.r1:.2f}/{default.r5:.2f}/{default.mrr10:.2f} | vector "
                f"{vector.r1:.2f}/{vector.r5:.2f}/{vector.mrr10:.2f} (n={default.n})"
            )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default=None, help="embedding backend (default: the setting's default)")
    parser.add_argument("--corpus", action="append", default=None)
    parser.add_argument("--split", default="all", choices=["tune", "judge", "all"])
    parser.add_argument("--fast", action="store_true", help="skip the candidates that embed extra vectors")
    parser.add_argument("--work", type=Path, default=None, help="where the indexes are kept between runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument("--chunking", default=None, help=f"an index-side variant: {', '.join(chunk_variants.VARIANTS)}")
    parser.add_argument("--model", type=Path, default=None, help="another sentence-transformers model folder")
    parser.add_argument("--own-chunking", action="store_true", help="chunk with --model's tokenizer and input limit")
    args = parser.parse_args()
    if args.chunking:
        chunk_variants.apply(args.chunking)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    corpora = load_corpora(args.corpus)
    missing = [c.name for c in corpora if not c.available]
    if missing:
        print(f"corpora not prepared (see bench/data/corpora/README.md): {', '.join(missing)}")
    corpora = [c for c in corpora if c.available]
    if not corpora:
        return
    embedder = chunk_variants.bench_embedder(args.model, args.backend, own_chunking=args.own_chunking)
    print(f"== embedder: {embedder.name}, chunks of at most {embedder.max_tokens} tokens")
    slug = chunk_variants.work_slug(embedder, args.chunking or "")
    work = args.work or Path(tempfile.gettempdir()) / "personas-search-eval" / slug
    results = {c.name: await evaluate(c, work, embedder, fast=args.fast) for c in corpora}
    for split in ("tune", "judge") if args.split == "all" else (args.split,):
        print_table(results, split)
    print_summary(results, [c.name for c in corpora])
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    c: {n: {s: q.__dict__ for s, q in v.items()} for n, v in r.items() if n != "_meta"}
                    for c, r in results.items()
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
