"""Ranking of search candidates (pure functions, no I/O).

A search asks the index for two candidate lists: the nearest chunks by cosine distance
(``_distance``) and the best full-text (BM25) matches (``_score``). These functions order them.
``bench/quality_bench.py`` scores every one of them (and the variants in ``bench/quality_candidates.py``)
on corpora nobody here wrote; :func:`rank` is the one the server uses (see the README's search
section for the table that chose it).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from standards.index.models import SearchHit

#: RRF constant (Cormack et al.); ranks deeper than ~k matter little.
RRF_K = 60
#: Weight of the full-text score in :func:`blend` (cosine similarity has weight 1).
BLEND_TEXT_WEIGHT = 0.2
#: Weight of a file's next-best chunks in :func:`aggregate_docs`.
DOC_WEIGHT = 0.1
_FTS_WORD = re.compile(r"\w+")

Ranked = list[tuple[str, SearchHit]]
_Item = TypeVar("_Item")


#: Words of how a question is asked rather than what it is about (the full-text index already drops
#: English stop words such as "the", "is", "to"); see :func:`fts_query_text`.
_QUESTION_WORDS = """
    how what which when where why who whom whose do does did doing done can could should would shall may might
    must i me my mine we us our ours you your yours it its they them their this that these those there here
    am are was were be been being have has had
"""
QUESTION_WORDS = frozenset(_QUESTION_WORDS.split())


def fts_query_text(query: str, *, drop_question_words: bool = False) -> str:
    """The query as plain words for full-text search (no query syntax reaches the parser).

    With ``drop_question_words`` the words of :data:`QUESTION_WORDS` go too (unless nothing else is
    left), so "How should I name my branches?" asks BM25 for "name branches".
    """
    words = _FTS_WORD.findall(query)
    if drop_question_words:
        kept = [w for w in words if w.lower() not in QUESTION_WORDS]
        words = kept or words
    return " ".join(words)


def _hit(row: dict[str, Any], score: float) -> SearchHit:
    return SearchHit(
        file=row["file"],
        heading_path=list(row["heading_path"] or []),
        domain=row["domain"],
        source=row["source"],
        paths=list(row.get("paths") or []),
        score=round(score, 6),
        text=row["text"],
        tags=list(row["tags"] or []),
    )


def _similarity(row: dict[str, Any]) -> float:
    return 1.0 - float(row["_distance"])


def _by_similarity(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], float]]:
    """Rows nearest first with their rounded similarity (the score a hit shows)."""
    ordered = sorted(rows, key=_similarity, reverse=True)
    return [(row, round(_similarity(row), 6)) for row in ordered]


def vector_hits(rows: list[dict[str, Any]], limit: int) -> Ranked:
    """Nearest chunks first; cosine distance → similarity (higher is better)."""
    return [(row["doc"], _hit(row, score)) for row, score in _by_similarity(rows)[:limit]]


def text_hits(rows: list[dict[str, Any]], limit: int) -> Ranked:
    """Full-text matches first; BM25 scaled so the best match scores 1."""
    best = max((float(r["_score"]) for r in rows), default=0.0) or 1.0
    ordered = sorted(rows, key=lambda r: float(r["_score"]), reverse=True)
    return [(row["doc"], _hit(row, float(row["_score"]) / best)) for row in ordered[:limit]]


def fuse(
    vector_rows: list[dict[str, Any]], text_rows: list[dict[str, Any]], limit: int, *, text_weight: float = 1.0
) -> Ranked:
    """Weighted reciprocal rank fusion; scores scaled so rank 1 in both lists gives 1.0."""
    scores: dict[str, float] = {}
    rows: dict[str, dict[str, Any]] = {}
    for ranked, weight in ((vector_rows, 1.0), (text_rows, text_weight)):
        for rank, row in enumerate(ranked, start=1):
            key = str(row["id"])
            scores[key] = scores.get(key, 0.0) + weight / (RRF_K + rank)
            rows.setdefault(key, row)
    best = (1.0 + text_weight) / (RRF_K + 1)
    ordered = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:limit]
    return [(rows[key]["doc"], _hit(rows[key], score / best)) for key, score in ordered]


def blend(
    vector_rows: list[dict[str, Any]],
    text_rows: list[dict[str, Any]],
    limit: int,
    *,
    text_weight: float = BLEND_TEXT_WEIGHT,
) -> Ranked:
    """Cosine similarity plus ``text_weight`` × BM25 (scaled to the best match = 1), per chunk.

    A chunk found only by full text gets the lowest similarity of the vector list (its true
    similarity is at most that); one found only by vector gets no text score.
    """
    scored = _blend_scores(vector_rows, text_rows, text_weight)[:limit]
    return [(row["doc"], _hit(row, score)) for row, score in scored]


def _blend_scores(
    vector_rows: list[dict[str, Any]], text_rows: list[dict[str, Any]], text_weight: float
) -> list[tuple[dict[str, Any], float]]:
    """:func:`blend`'s order and (rounded) scores, without building hits."""
    rows: dict[str, dict[str, Any]] = {}
    sims: dict[str, float] = {}
    for row in vector_rows:
        key = str(row["id"])
        rows[key] = row
        sims[key] = _similarity(row)
    floor = min(sims.values(), default=0.0)
    best_text = max((float(r["_score"]) for r in text_rows), default=0.0) or 1.0
    scores = dict(sims)
    for row in text_rows:
        key = str(row["id"])
        rows.setdefault(key, row)
        scores[key] = sims.get(key, floor) + text_weight * float(row["_score"]) / best_text
    ordered = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    top = 1.0 + text_weight
    return [(rows[key], round(max(0.0, score / top), 6)) for key, score in ordered]


def aggregate_docs(ranked: Ranked, *, doc_weight: float, per_doc: int = 3) -> Ranked:
    """Document-level evidence: each chunk also gets ``doc_weight`` × the summed scores of its
    file's next-best chunks (up to ``per_doc`` - 1 of them) among the candidates.

    Scores are rescaled so they stay in [0, 1] and the order is by the new score.
    """
    rescored = _aggregate([(doc, hit.score, hit) for doc, hit in ranked], doc_weight, per_doc)
    return [(doc, hit.model_copy(update={"score": score})) for doc, score, hit in rescored]


def _aggregate(
    scored: list[tuple[str, float, _Item]], doc_weight: float, per_doc: int = 3
) -> list[tuple[str, float, _Item]]:
    """:func:`aggregate_docs` over (doc, score, anything) triples: new scores, best first (stable)."""
    by_doc: dict[str, list[float]] = {}
    for doc, score, _ in scored:
        by_doc.setdefault(doc, []).append(score)
    bonus = {doc: sum(sorted(scores, reverse=True)[1:per_doc]) for doc, scores in by_doc.items()}
    top = 1.0 + doc_weight * (per_doc - 1)
    rescored = [(doc, round((score + doc_weight * bonus[doc]) / top, 6), item) for doc, score, item in scored]
    rescored.sort(key=lambda triple: triple[1], reverse=True)
    return rescored


def candidate_depth(limit: int) -> int:
    """How many chunks a search takes from each candidate list for ``limit`` results."""
    return max(limit * 4, 20)


def rank(vector_rows: list[dict[str, Any]], text_rows: list[dict[str, Any]] | None, limit: int) -> Ranked:
    """The default ranking: cosine + 0.2 × BM25 per chunk, then document-level aggregation.

    Chosen on the tuning questions of four public corpora and the playbook (190 of their 200 put the
    right file first) and checked on held-out questions (README, "Search"). Other chunk sizes and
    overlaps, headers, a headings-only BM25 field, other aggregations, pseudo-relevance feedback and a
    BM25 query without question words were measured too; none put more than one more tuning question first, so this
    stayed. With ``text_rows=None`` (vector mode) the same aggregation applies to cosine similarity
    alone.
    """
    if text_rows is None:
        scored = _by_similarity(vector_rows)
    else:
        scored = _blend_scores(vector_rows, text_rows, BLEND_TEXT_WEIGHT)
    # hits are built for the results only (a search has ~40 candidates and returns ~5)
    best = _aggregate([(row["doc"], score, row) for row, score in scored], DOC_WEIGHT)[:limit]
    return [(doc, _hit(row, score)) for doc, score, row in best]
