"""Ranking of search candidates: weighted RRF, score blend, document aggregation (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from standards.index import ranking


def row(
    chunk: str, *, doc: str | None = None, distance: float | None = None, score: float | None = None
) -> dict[str, Any]:
    file = (doc or chunk.split("#", maxsplit=1)[0]) + ".md"
    out: dict[str, Any] = {
        "id": chunk,
        "doc": f"project:{file}",
        "file": file,
        "heading_path": ["T"],
        "domain": "d",
        "source": "project",
        "text": chunk,
        "tags": [],
    }
    if distance is not None:
        out["_distance"] = distance
    if score is not None:
        out["_score"] = score
    return out


def files(ranked: ranking.Ranked) -> list[str]:
    return [hit.file for _, hit in ranked]


def test_vector_hits_order_by_similarity_and_cut_at_limit() -> None:
    rows = [row("b", distance=0.5), row("a", distance=0.2), row("c", distance=0.9)]
    ranked = ranking.vector_hits(rows, 2)
    assert files(ranked) == ["a.md", "b.md"]
    assert [hit.score for _, hit in ranked] == [0.8, 0.5]


def test_text_hits_scale_the_best_match_to_one() -> None:
    ranked = ranking.text_hits([row("a", score=2.0), row("b", score=8.0)], 5)
    assert files(ranked) == ["b.md", "a.md"]
    assert [hit.score for _, hit in ranked] == [1.0, 0.25]


def test_rrf_weight_decides_between_the_lists() -> None:
    vector = [row("v1", distance=0.1), row("both", distance=0.2), row("v3", distance=0.3)]
    text = [row("t1", score=9.0), row("both", score=5.0)]
    equal = ranking.fuse(vector, text, 5)
    assert files(equal)[0] == "both.md"  # in both lists beats first in one
    assert equal[0][1].score == pytest.approx((1 / 62 + 1 / 62) / (2 / 61), abs=1e-6)
    assert files(equal).index("t1.md") < files(equal).index("v3.md")
    light = ranking.fuse(vector, text, 5, text_weight=0.1)  # full text barely counts
    assert files(light).index("v3.md") < files(light).index("t1.md")


def test_blend_adds_weighted_text_score_to_similarity() -> None:
    vector = [row("a", distance=0.30), row("b", distance=0.32), row("c", distance=0.6)]
    text = [row("b", score=10.0), row("x", score=5.0)]
    ranked = ranking.blend(vector, text, 10, text_weight=0.1)
    # b: 0.68 + 0.1 > a: 0.70; x (text only) gets the lowest similarity (0.4) + 0.05
    assert files(ranked) == ["b.md", "a.md", "x.md", "c.md"]
    assert all(0 <= hit.score <= 1 for _, hit in ranked)
    assert ranked[0][1].score == pytest.approx(0.78 / 1.1, abs=1e-6)
    assert files(ranking.blend(vector, text, 10, text_weight=0.0))[:2] == ["a.md", "b.md"]


def test_blend_with_no_text_matches_is_vector_order() -> None:
    vector = [row("a", distance=0.3), row("b", distance=0.1)]
    assert files(ranking.blend(vector, [], 5)) == ["b.md", "a.md"]


def test_document_aggregation_lifts_a_file_with_several_good_chunks() -> None:
    vector = [
        row("lone", distance=0.20),
        row("many#1", distance=0.22),
        row("many#2", distance=0.25),
        row("many#3", distance=0.30),
    ]
    hits = ranking.vector_hits(vector, 10)
    assert files(hits)[0] == "lone.md"
    lifted = ranking.aggregate_docs(hits, doc_weight=0.1)
    assert files(lifted)[0] == "many.md"
    assert files(ranking.aggregate_docs(hits, doc_weight=0.0))[0] == "lone.md"


def test_default_ranking_is_vector_only_without_text_rows() -> None:
    vector = [row("a", distance=0.3), row("b", distance=0.1)]
    assert files(ranking.rank(vector, None, 5)) == ["b.md", "a.md"]
    assert ranking.rank(vector, [], 5)[0][1].file == "b.md"


def test_fts_query_text_drops_query_syntax() -> None:
    assert ranking.fts_query_text('secrets AND "vault" OR -rotate*') == "secrets AND vault OR rotate"


def test_fts_query_text_can_drop_question_words() -> None:
    query = "How should I name my feature branches?"
    assert ranking.fts_query_text(query) == "How should I name my feature branches"
    assert ranking.fts_query_text(query, drop_question_words=True) == "name feature branches"


def test_fts_query_text_keeps_a_query_made_only_of_question_words() -> None:
    assert ranking.fts_query_text("What should we do?", drop_question_words=True) == "What should we do"


def test_default_ranking_equals_blend_then_document_aggregation() -> None:
    """rank() scores without building a hit per candidate; it must order and score exactly as the
    composition of the public steps (what the quality bench measures)."""
    import random

    rng = random.Random(3)
    for trial in range(200):
        docs = [f"f{d}" for d in range(rng.randint(1, 8))]
        chunks = [f"{rng.choice(docs)}#{i}" for i in range(rng.randint(1, 30))]
        vector = [row(c, distance=round(rng.uniform(0.1, 0.9), rng.choice([2, 6]))) for c in chunks]
        text = [row(c, score=round(rng.uniform(0.5, 9.0), 1)) for c in rng.sample(chunks, rng.randint(0, len(chunks)))]
        text += [row(f"{rng.choice(docs)}#t{i}", score=rng.uniform(0.5, 9.0)) for i in range(rng.randint(0, 5))]
        limit = rng.randint(1, 12)
        for text_rows in (text, None):
            if text_rows is None:
                expected = ranking.aggregate_docs(ranking.vector_hits(vector, len(vector)), doc_weight=0.1)[:limit]
            else:
                composed = ranking.blend(vector, text_rows, len(vector) + len(text_rows))
                expected = ranking.aggregate_docs(composed, doc_weight=0.1)[:limit]
            got = ranking.rank(vector, text_rows, limit)
            assert [(d, h.model_dump()) for d, h in got] == [(d, h.model_dump()) for d, h in expected], trial
