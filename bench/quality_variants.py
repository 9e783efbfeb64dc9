"""Ranking variants for the tune-split search (``bench/quality_tune.py``): one parametrised pipeline.

A variant is a :class:`Spec`. Its pipeline follows the server's default (``ranking.rank``) step by step,
and each field changes one step:

1. candidates: the nearest ``DEPTH`` chunks for the query vector (``vector``: the question, the
   question without question words, or the normalised sum of both) and the best ``DEPTH`` BM25
   matches (``k1``, ``b``), plus optionally the best ``DEPTH`` of a BM25 ``field`` of path and title;
2. per chunk: cosine similarity (``vec_norm``: raw, or min-max / z-score over the vector list) plus
   ``w`` × the BM25 score normalised over its list (``text_norm``: ``max`` = divided by the best,
   as the default; ``minmax``; ``z``; ``rank`` = 1 - rank/DEPTH) plus ``field_w`` × the field's score
   (normalised the same way); a chunk missing from the vector list gets that list's lowest similarity;
   plus ``file_w`` × its file's score in a BM25 over one text per file (path words and title), divided
   by the best file's;
3. ``neighbour``: each chunk also gets λ × the scores of the chunks just before and after it in
   the same file, when they are candidates;
4. files: ``sum`` = the default document aggregation (best chunk + ``agg_w`` × the next ``agg_k`` - 1
   of the file); ``maxmean`` = best + ``agg_w`` × mean of the file's best ``agg_k`` candidates;
   ``maxmeanpad`` = the same mean with missing chunks counted as 0; ``none`` = best chunk only.

``Spec()`` is the default; the bench checks it ranks exactly as ``ranking.rank`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bench.quality_candidates import DEPTH
from bench.quality_memory import Asked, Loaded, Rows
from standards.index import ranking
from standards.index.memory_text import K1, B


@dataclass(frozen=True)
class Spec:
    vector: str = "question"
    vec_norm: str = "raw"
    w: float = ranking.BLEND_TEXT_WEIGHT
    text_norm: str = "max"
    k1: float = K1
    b: float = B
    field: str | None = None
    field_w: float = 0.0
    file_w: float = 0.0
    neighbour: float = 0.0
    agg: str = "sum"
    agg_w: float = ranking.DOC_WEIGHT
    agg_k: int = 3


def normalise(values: list[float], how: str) -> list[float]:
    if not values:
        return []
    a = np.asarray(values, dtype=np.float64)
    if how == "raw":
        out = a
    elif how == "max":
        out = a / (a.max() or 1.0)
    elif how == "minmax":
        span = a.max() - a.min()
        out = (a - a.min()) / span if span > 0 else np.ones_like(a)
    elif how == "z":
        std = a.std()
        out = (a - a.mean()) / std if std > 0 else np.zeros_like(a)
    elif how == "rank":
        order = np.argsort(-a, kind="stable")
        out = np.empty_like(a)
        out[order] = 1.0 - np.arange(len(a)) / DEPTH
    else:
        raise ValueError(f"unknown normalisation {how!r}")
    return [float(x) for x in out]


def chunk_scores(spec: Spec, corpus: Loaded, asked: Asked) -> tuple[dict[int, dict[str, Any]], dict[int, float]]:
    """Steps 1-3: candidate rows and their scores, by row position."""
    vrows = asked.vector_rows(corpus, spec.vector)
    rows: dict[int, dict[str, Any]] = {r["_pos"]: r for r in vrows}
    sims = normalise([1.0 - float(r["_distance"]) for r in vrows], spec.vec_norm)
    score = {r["_pos"]: s for r, s in zip(vrows, sims, strict=True)}
    floor = min(score.values(), default=0.0)
    lists: list[tuple[Rows, float]] = []
    if spec.w:
        lists.append((asked.text_rows(corpus, "body", spec.k1, spec.b), spec.w))
    if spec.field and spec.field_w:
        lists.append((asked.text_rows(corpus, spec.field), spec.field_w))
    for found, weight in lists:
        for row, value in zip(found, normalise([float(r["_score"]) for r in found], spec.text_norm), strict=True):
            rows.setdefault(row["_pos"], row)
            score[row["_pos"]] = score.get(row["_pos"], floor) + weight * value
    if spec.file_w:
        per_file = asked.file_scores(corpus)
        for pos, row in rows.items():
            score[pos] += spec.file_w * per_file.get(row["file"], 0.0)
    if spec.neighbour:
        base = dict(score)
        for pos, row in rows.items():
            for step in (-1, 1):
                near = corpus.position.get((row["file"], int(row["chunk_index"]) + step))
                if near is not None and near in base:
                    score[pos] += spec.neighbour * base[near]
    return rows, score


def rank_files(spec: Spec, corpus: Loaded, asked: Asked) -> list[str]:
    rows, score = chunk_scores(spec, corpus, asked)
    top = 1.0 + spec.w + (spec.field_w if spec.field else 0.0) + spec.file_w
    if "z" in (spec.vec_norm, spec.text_norm):  # z-scores go below 0: shift so the clamp below cuts nothing
        low = min(score.values(), default=0.0)
        score = {pos: s - low for pos, s in score.items()}
    ordered = sorted(score.items(), key=lambda kv: kv[1], reverse=True)
    if spec.agg == "none":
        return _unique(rows[pos]["file"] for pos, _ in ordered)
    # the same hit objects (scaled, clamped, rounded) as ranking.blend, so "sum" is ranking.rank exactly
    ranked = [(rows[pos]["doc"], ranking._hit(rows[pos], max(0.0, s / top))) for pos, s in ordered]
    if spec.agg == "sum":
        return _unique(hit.file for _, hit in ranking.aggregate_docs(ranked, doc_weight=spec.agg_w, per_doc=spec.agg_k))
    by_file: dict[str, list[float]] = {}
    for _, hit in ranked:
        by_file.setdefault(hit.file, []).append(hit.score)
    file_score: dict[str, float] = {}
    for f, values in by_file.items():
        best = sorted(values, reverse=True)[: spec.agg_k]
        mean = sum(best) / (spec.agg_k if spec.agg == "maxmeanpad" else len(best))
        file_score[f] = best[0] + spec.agg_w * mean
    return sorted(file_score, key=lambda f: -file_score[f])


def product_default(corpus: Loaded, asked: Asked) -> list[str]:
    """``ranking.rank`` itself on the same candidate lists (the check for ``Spec()``)."""
    ranked = ranking.rank(asked.vector_rows(corpus), asked.text_rows(corpus), 2 * DEPTH)
    return _unique(hit.file for _, hit in ranked)


def _unique(files: Any) -> list[str]:
    out: list[str] = []
    for f in files:
        if f not in out:
            out.append(f)
    return out


DEFAULT = Spec()
VECTOR = Spec(w=0.0, agg="none")


def variants() -> dict[str, Spec]:
    """Every variant tried on the tune split (the grids are the ones named in the README)."""
    v: dict[str, Spec] = {"default": DEFAULT, "vector only": VECTOR, "vector + doc agg": Spec(w=0.0)}
    for norm in ("minmax", "z", "rank"):
        for w in (0.1, 0.2, 0.3, 0.5):
            v[f"bm25 {norm} w={w}"] = Spec(text_norm=norm, w=w)
            v[f"both {norm} w={w}"] = Spec(text_norm=norm, vec_norm=norm, w=w)
    for w in (0.1, 0.15, 0.25, 0.3):
        v[f"bm25 max w={w}"] = Spec(w=w)
    for k1 in (0.6, 0.9, 1.2, 1.6, 2.0):
        for b in (0.3, 0.5, 0.75, 0.9):
            if (k1, b) != (K1, B):
                v[f"bm25 k1={k1} b={b}"] = Spec(k1=k1, b=b)
    v["vector query w/o question words"] = Spec(vector="plain")
    v["vector query: question + w/o question words"] = Spec(vector="mixed")
    v["vector only, query w/o question words"] = Spec(vector="plain", w=0.0, agg="none")
    for lam in (0.05, 0.1, 0.2, 0.3):
        v[f"neighbours l={lam}"] = Spec(neighbour=lam)
    for agg in ("maxmean", "maxmeanpad"):
        for k in (3, 5):
            for a in (0.1, 0.2, 0.3, 0.5):
                v[f"file {agg} k={k} a={a}"] = Spec(agg=agg, agg_k=k, agg_w=a)
    for k in (2, 4, 5):
        v[f"doc agg sum k={k}"] = Spec(agg_k=k)
    for f in ("path+title", "path+title+headings"):
        for fw in (0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2):
            v[f"field {f} w={fw}"] = Spec(field=f, field_w=fw)
    for fw in (0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2):
        v[f"file path+title w={fw}"] = Spec(file_w=fw)
    return v


def combine(a: Spec, b: Spec) -> Spec:
    """``a`` with every field ``b`` changes from the default."""
    changed = {k: getattr(b, k) for k in DEFAULT.__dataclass_fields__ if getattr(b, k) != getattr(DEFAULT, k)}
    return replace(a, **changed)
