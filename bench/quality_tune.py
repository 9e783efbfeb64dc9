"""Ranking variants scored on the tune split, in memory; the judge split only for variants named.

    python -m bench.quality_tune [--backend B] [--corpus NAME ...] [--combine "A & B" ...] [--judge NAME ...]
                                 [--model PATH [--own-chunking]]

Every corpus (the playbook too) is built like ``quality_bench`` builds it and read into memory
(``bench/quality_memory.py``); every variant of ``bench/quality_variants.py`` ranks every question. The
first table pools the ``tune`` questions of all corpora: questions with the right file first, MRR@10,
the change in right-first per corpus (and over the batch-2 questions) against the default, and the
questions each variant ranks better / worse than the default (first gold file's rank, 11 when not in
the top 10). ``--combine "A & B"`` adds a variant with both A's and B's changes.

The rule declared before the first run marks a variant "passes": at least ``MARGIN`` more pooled tune
questions first than the default, pooled tune MRR@10 no lower, no corpus with fewer tune questions
first. The selection-noise check then measures, on tune alone, what such a margin is worth after a
search over this many variants: the best variant on a random half of the tune questions, scored on the
other half (README, "Search": the margin turned out to be within that noise). The judge split is
printed per corpus and per question batch (1, 2, both) for the default, vector-only and the variants
named with ``--judge``, nothing else. Nothing is asserted; ``Spec()`` ranking differently from
``ranking.rank`` is reported as a mismatch. ``--model PATH`` / ``--own-chunking``: another model folder,
as in ``quality_bench`` (same index folders, so one built by either is reused by the other).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.chunk_variants import bench_embedder, work_slug
from bench.corpora import Question, load_corpora
from bench.quality_memory import Asked, Loaded, load
from bench.quality_variants import DEFAULT, Spec, combine, product_default, rank_files, variants

Ranks = list[int]
#: the adoption rule (see the docstring)
MARGIN = 3
MISSED = 11
SELECTION_TRIALS = 200


def gold_rank(files: list[str], q: Question) -> int:
    gold = set(q.files)
    return next((i for i, f in enumerate(files[:10], start=1) if f in gold), MISSED)


def summary(ranks: Ranks) -> tuple[int, int, float]:
    """(right first, right in the top 5, MRR@10)."""
    n = max(1, len(ranks))
    return sum(r == 1 for r in ranks), sum(r <= 5 for r in ranks), sum(1.0 / r for r in ranks if r < MISSED) / n


def pick(asked: list[Asked], ranks: Ranks, split: str, batch: int | None = None) -> Ranks:
    return [
        r for a, r in zip(asked, ranks, strict=True) if a.question.split == split and batch in (None, a.question.batch)
    ]


def print_tune(data: list[tuple[Loaded, list[Asked]]], results: dict[str, dict[str, Ranks]]) -> None:
    names = [c.name for c, _ in data]
    asked_by = {c.name: a for c, a in data}
    tune = {v: {c: pick(asked_by[c], results[v][c], "tune") for c in names} for v in results}
    base = tune["default"]
    pooled_base = [r for c in names for r in base[c]]
    b1, _, bmrr = summary(pooled_base)
    print(f"\n== tune split, pooled over {', '.join(names)} (n={len(pooled_base)}); default {b1} first, MRR {bmrr:.3f}")
    print(f"   adopt only if ≥ {MARGIN} more first, MRR no lower, no corpus with fewer first")
    short = "  ".join(f"{c[:10]:>10}" for c in [*names, "(batch 2)"])
    print(f"{'variant':<48} {'first':>5} {'MRR@10':>7}  {'+/-':>7}  Δ first per corpus: {short}")
    rows = []
    for v, per in tune.items():
        pooled = [r for c in names for r in per[c]]
        r1, _, mrr = summary(pooled)
        better = sum(a < b for a, b in zip(pooled, pooled_base, strict=True))
        worse = sum(a > b for a, b in zip(pooled, pooled_base, strict=True))
        deltas = [summary(per[c])[0] - summary(base[c])[0] for c in names]
        second = [r for c in names for r in pick(asked_by[c], results[v][c], "tune", 2)]
        deltas.append(
            summary(second)[0]
            - summary([r for c in names for r in pick(asked_by[c], results["default"][c], "tune", 2)])[0]
        )
        ok = r1 - b1 >= MARGIN and mrr >= bmrr and min(deltas[:-1]) >= 0
        rows.append((r1, mrr, v, better, worse, deltas, ok))
    for r1, mrr, v, better, worse, deltas, ok in sorted(rows, key=lambda x: (-x[0], -x[1], x[2])):
        cells = "  ".join(f"{d:>+10d}" for d in deltas)
        mark = " ◀ passes" if ok else ""
        print(f"{v[:48]:<48} {r1:>5} {mrr:>7.3f}  {f'+{better}/-{worse}':>7}  {' ' * 19}{cells}{mark}")


def first(ranks: Ranks, half: list[int]) -> int:
    return sum(ranks[i] == 1 for i in half)


def print_selection_noise(data: list[tuple[Loaded, list[Asked]]], results: dict[str, dict[str, Ranks]]) -> None:
    """How much of the best variant's tune gain is selection noise: pick the variant with the most
    questions first on a random half of the tune questions, count its gain on the other half."""
    pooled = {v: [r for c, asked in data for r in pick(asked, results[v][c.name], "tune")] for v in results}
    n = len(pooled["default"])
    rng = random.Random(0)
    order = list(range(n))
    picked: list[tuple[str, int, int]] = []
    for _ in range(SELECTION_TRIALS):
        rng.shuffle(order)
        seen_half, other_half = order[: n // 2], order[n // 2 :]
        best = max(pooled, key=lambda v: (first(pooled[v], seen_half), v == "default"))
        gain = [first(pooled[best], h) - first(pooled["default"], h) for h in (seen_half, other_half)]
        picked.append((best, gain[0], gain[1]))
    seen = sum(p[1] for p in picked) / len(picked)
    unseen = sum(p[2] for p in picked) / len(picked)
    common = Counter(p[0] for p in picked).most_common(3)
    print(f"\n== selection noise ({SELECTION_TRIALS} random halves of the {n} tune questions): the best variant on one")
    print(f"   half puts {seen:+.1f} more first there, {unseen:+.1f} on the other half; picked most: {common}")


def print_judge(data: list[tuple[Loaded, list[Asked]]], results: dict[str, dict[str, Ranks]], names: list[str]) -> None:
    print("\n== judge split: R@1 / R@5 / MRR@10 over files (n) — batch 1 | batch 2 | both")
    for corpus, asked in data:
        if not any(a.question.split == "judge" for a in asked):
            continue
        print(f"   {corpus.name}")
        for v in names:
            cells = []
            for batch in (1, 2, None):
                ranks = pick(asked, results[v][corpus.name], "judge", batch)
                r1, r5, mrr = summary(ranks)
                n = max(1, len(ranks))
                cells.append(f"{r1 / n:.2f} / {r5 / n:.2f} / {mrr:.2f} ({len(ranks)})")
            print(f"      {v[:44]:<44} " + " | ".join(cells))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default=None)
    parser.add_argument("--corpus", action="append", default=None)
    parser.add_argument("--combine", action="append", default=[], help="A & B: both variants' changes")
    parser.add_argument("--judge", action="append", default=[], help="also print this variant on judge")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--model", type=Path, default=None, help="another sentence-transformers model folder")
    parser.add_argument("--own-chunking", action="store_true", help="chunk with --model's tokenizer and input limit")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    corpora = [c for c in load_corpora(args.corpus) if c.available]
    embedder = bench_embedder(args.model, args.backend, own_chunking=args.own_chunking)
    work = args.work or Path(tempfile.gettempdir()) / "personas-search-eval" / work_slug(embedder)
    print(f"== embedder: {embedder.name}, chunks of at most {embedder.max_tokens} tokens")
    data = [await load(c, work, embedder) for c in corpora]
    specs: dict[str, Spec] = variants()
    for pair in args.combine:
        a, _, b = pair.partition(" & ")
        specs[pair] = combine(specs[a], specs[b])
    results: dict[str, dict[str, Ranks]] = {v: {} for v in specs}
    mismatches = 0
    for corpus, asked in data:
        for v, spec in specs.items():
            results[v][corpus.name] = [gold_rank(rank_files(spec, corpus, a), a.question) for a in asked]
        mismatches += sum(rank_files(DEFAULT, corpus, a)[:10] != product_default(corpus, a)[:10] for a in asked)
    print(f"== Spec() against ranking.rank: {mismatches} questions ranked differently")
    print_tune(data, results)
    print_selection_noise(data, results)
    print_judge(data, results, ["default", "vector only", *args.judge])


if __name__ == "__main__":
    asyncio.run(main())
