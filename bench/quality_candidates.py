"""The ranking candidates the quality bench scores (see ``bench/quality_bench.py``).

Each candidate orders one question's candidate lists, as the index returns them, into a list of
files. Candidates that need more than the index stores (a summary vector per document, vectors
or a full-text index of the headings alone) get it from :class:`Extra`, computed by the bench.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from standards.index import ranking

#: Candidates per list, as a search for 5 results takes them.
DEPTH = ranking.candidate_depth(5)
#: Candidates that need vectors or indexes the index does not store (skipped with --fast).
NEEDS_EXTRAS = ("heading-aware", "multi-vector", "headings bm25")
DEFAULT = "default (blend 0.2 + doc agg 0.1)"
#: Pseudo-relevance feedback: the query vector moves by beta × the mean of its best PRF_TOP chunks.
PRF_BETAS = (0.3, 0.6)
PRF_TOP = 3

Rows = list[dict[str, Any]]


class Extra:
    """Per-document summary vectors and per-chunk heading vectors (computed by the bench)."""

    def __init__(self, doc_ids: list[str], doc_vecs: np.ndarray, head_by_id: dict[str, np.ndarray]) -> None:
        self.doc_ids = doc_ids
        self.doc_vecs = doc_vecs
        self.head_by_id = head_by_id


class Case:
    """One question's candidate lists (as the index returns them) and its extra inputs.

    ``text_rows_plain`` is the full-text list for the query with question words dropped;
    ``head_rows`` the full-text list over the chunks' title and heading path alone.
    """

    def __init__(
        self,
        vector_rows: Rows,
        text_rows: Rows,
        qvec: np.ndarray,
        extra: Extra,
        *,
        text_rows_plain: Rows | None = None,
        head_rows: Rows | None = None,
    ) -> None:
        self.vector_rows = vector_rows
        self.text_rows = text_rows
        self.qvec = qvec
        self.extra = extra
        self.text_rows_plain = text_rows if text_rows_plain is None else text_rows_plain
        self.head_rows = head_rows or []
        #: vector candidates for the query moved towards its best chunks, by feedback weight
        self.feedback_rows: dict[float, Rows] = {}


Ranker = Callable[[Case], list[str]]


def files_of(hits: list[tuple[str, Any]]) -> list[str]:
    out: list[str] = []
    for _, hit in hits:
        if hit.file not in out:
            out.append(hit.file)
    return out


def _rrf(k: Case, w: float) -> list[str]:
    return files_of(ranking.fuse(k.vector_rows, k.text_rows, DEPTH, text_weight=w))


def _blend(k: Case, w: float) -> list[str]:
    return files_of(ranking.blend(k.vector_rows, k.text_rows, DEPTH, text_weight=w))


def _doc_agg(k: Case, a: float) -> list[str]:
    return files_of(ranking.aggregate_docs(ranking.vector_hits(k.vector_rows, DEPTH), doc_weight=a))


def _blend_doc_agg(k: Case, w: float, a: float) -> list[str]:
    blended = ranking.blend(k.vector_rows, k.text_rows, DEPTH, text_weight=w)
    return files_of(ranking.aggregate_docs(blended, doc_weight=a))


def _agg_variant(k: Case, a: float, per_doc: int, decay: float) -> list[str]:
    """Blend 0.2, then the file's next-best chunks added with weights a, a·decay, a·decay², …"""
    blended = ranking.blend(k.vector_rows, k.text_rows, len(k.vector_rows) + len(k.text_rows))
    by_doc: dict[str, list[float]] = {}
    for doc, hit in blended:
        by_doc.setdefault(doc, []).append(hit.score)
    weights = [a * decay**i for i in range(per_doc - 1)]
    bonus = {
        doc: sum(w * s for w, s in zip(weights, sorted(v, reverse=True)[1:], strict=False)) for doc, v in by_doc.items()
    }
    return files_of(sorted(blended, key=lambda item: -(item[1].score + bonus[item[0]])))


def _agg_depth(k: Case, depth: int) -> list[str]:
    """Blend 0.2, keep the best ``depth`` chunks, then doc agg 0.1 among those only."""
    blended = ranking.blend(k.vector_rows, k.text_rows, depth)
    return files_of(ranking.aggregate_docs(blended, doc_weight=ranking.DOC_WEIGHT))


def _doc_mean(k: Case, top: int) -> list[str]:
    """Blend 0.2, then files ordered by the mean of their best ``top`` chunks (missing ones count 0)."""
    blended = ranking.blend(k.vector_rows, k.text_rows, len(k.vector_rows) + len(k.text_rows))
    by_file: dict[str, list[float]] = {}
    for _, hit in blended:
        by_file.setdefault(hit.file, []).append(hit.score)
    score = {f: sum(sorted(v, reverse=True)[:top]) / top for f, v in by_file.items()}
    return sorted(score, key=lambda f: -score[f])


def _default_plain_query(k: Case) -> list[str]:
    """The default ranking with question words dropped from the full-text query."""
    return files_of(ranking.rank(k.vector_rows, k.text_rows_plain, 2 * DEPTH))


def _with_headings(k: Case, wh: float, plain: bool) -> list[str]:
    """Cosine + 0.2 × BM25 + ``wh`` × BM25 over title + heading path alone (each best = 1), then doc agg."""
    rows: dict[str, dict[str, Any]] = {}
    sims: dict[str, float] = {}
    for row in k.vector_rows:
        rows[str(row["id"])] = row
        sims[str(row["id"])] = 1.0 - float(row["_distance"])
    floor = min(sims.values(), default=0.0)
    scores = dict(sims)
    for found, weight in ((k.text_rows_plain if plain else k.text_rows, ranking.BLEND_TEXT_WEIGHT), (k.head_rows, wh)):
        best = max((float(r["_score"]) for r in found), default=0.0) or 1.0
        for row in found:
            key = str(row["id"])
            rows.setdefault(key, row)
            scores[key] = scores.get(key, sims.get(key, floor)) + weight * float(row["_score"]) / best
    top = 1.0 + ranking.BLEND_TEXT_WEIGHT + wh
    ranked = [(rows[key]["doc"], ranking._hit(rows[key], max(0.0, s / top))) for key, s in scores.items()]
    ranked.sort(key=lambda item: -item[1].score)
    return files_of(ranking.aggregate_docs(ranked, doc_weight=ranking.DOC_WEIGHT))


def _feedback(k: Case, beta: float, vector_only: bool) -> list[str]:
    """The default ranking (or vector order) over the candidates of the feedback-moved query vector."""
    rows = k.feedback_rows[beta]
    if vector_only:
        return files_of(ranking.vector_hits(rows, DEPTH))
    return files_of(ranking.rank(rows, k.text_rows, 2 * DEPTH))


def summary_sim(case: Case) -> dict[str, float]:
    sims = case.extra.doc_vecs @ case.qvec
    return dict(zip(case.extra.doc_ids, (float(s) for s in sims), strict=True))


def _heading_aware(k: Case, beta: float) -> list[str]:
    """Chunk similarity mixed with the similarity of its heading path alone."""
    rows = []
    for row in k.vector_rows:
        head = k.extra.head_by_id.get(str(row["id"]))
        bonus = float(head @ k.qvec) if head is not None else 0.0
        sim = 1.0 - float(row["_distance"])
        rows.append({**row, "_distance": 1.0 - ((1 - beta) * sim + beta * bonus)})
    return files_of(ranking.vector_hits(rows, DEPTH))


def _multi_vector(k: Case, gamma: float) -> list[str]:
    """File score: best chunk similarity mixed with the similarity of the file's summary vector."""
    sims = summary_sim(k)
    scored: dict[str, float] = {}
    for row in k.vector_rows:
        scored[row["file"]] = max(scored.get(row["file"], -1.0), 1.0 - float(row["_distance"]))
    floor = min(scored.values(), default=0.0)
    combined = {f: (1 - gamma) * scored.get(f, floor) + gamma * sims.get(f, 0.0) for f in set(scored) | set(sims)}
    return sorted(combined, key=lambda f: -combined[f])


def candidates() -> dict[str, Ranker]:
    c: dict[str, Ranker] = {
        "vector": lambda k: files_of(ranking.vector_hits(k.vector_rows, DEPTH)),
        "full-text": lambda k: files_of(ranking.text_hits(k.text_rows, DEPTH)),
        "rrf 1:1 (old default)": partial(_rrf, w=1.0),
    }
    for w in (0.5, 0.25):
        c[f"rrf 1:{w}"] = partial(_rrf, w=w)
    for w in (0.05, 0.1, 0.15, 0.2, 0.3):
        c[f"score blend, bm25 w={w}"] = partial(_blend, w=w)
    for a in (0.1, 0.2):
        c[f"vector + doc agg a={a}"] = partial(_doc_agg, a=a)
    for w in (0.1, 0.2):
        for a in (0.1, 0.2):
            c[f"blend {w} + doc agg a={a}"] = partial(_blend_doc_agg, w=w, a=a)
    agg_variants = ((0.1, 2, 1.0), (0.2, 2, 1.0), (0.05, 3, 1.0), (0.15, 3, 1.0), (0.1, 6, 1.0), (0.2, 6, 0.5))
    for a, per_doc, decay in agg_variants:
        c[f"agg sum: next {per_doc - 1} a={a} decay={decay}"] = partial(_agg_variant, a=a, per_doc=per_doc, decay=decay)
    for depth in (10, 15, 20, 30):
        c[f"blend 0.2, best {depth} chunks, doc agg 0.1"] = partial(_agg_depth, depth=depth)
    for top in (2, 3):
        c[f"agg mean of best {top}"] = partial(_doc_mean, top=top)
    c["default, bm25 query w/o question words"] = _default_plain_query
    for wh in (0.1, 0.2, 0.3):
        c[f"headings bm25 {wh} + default"] = partial(_with_headings, wh=wh, plain=False)
        c[f"headings bm25 {wh} + default, plain query"] = partial(_with_headings, wh=wh, plain=True)
    for beta in PRF_BETAS:
        c[f"vector, query feedback b={beta} top {PRF_TOP}"] = partial(_feedback, beta=beta, vector_only=True)
        c[f"default, query feedback b={beta} top {PRF_TOP}"] = partial(_feedback, beta=beta, vector_only=False)
    for beta in (0.2, 0.4):
        c[f"heading-aware b={beta}"] = partial(_heading_aware, beta=beta)
    for g in (0.2, 0.4):
        c[f"multi-vector (summary+chunks) g={g}"] = partial(_multi_vector, gamma=g)
    c[DEFAULT] = lambda k: files_of(ranking.rank(k.vector_rows, k.text_rows, 2 * DEPTH))
    return c
