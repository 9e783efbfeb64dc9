"""The BM25 matrix built from cached terms scores every text exactly as ``bm25s`` does (bit for bit),
after any change of the texts too, and the cache only keeps what the texts in use need."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pytest

from standards.index import bm25_terms, memory_text
from standards.index.bm25_terms import TermCache, text_index
from standards.index.memory_text import K1, Analyzer, B, TextIndex

UNIVERSAL = Path(__file__).resolve().parents[2] / "standards" / "universal"


def paragraphs() -> list[str]:
    """Real Markdown text: the shipped starters' paragraphs (with duplicates and stop-word-only ones)."""
    texts: list[str] = []
    for path in sorted(UNIVERSAL.rglob("*.md")):
        texts.extend(p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip())
    assert len(texts) > 200
    return [*texts, texts[0], "the of and", "", "Ünïcödé café résumé naïve", "x" * 45 + " keys"]


def reference(texts: list[str]) -> TextIndex:
    """BM25 as it was computed before terms were cached: ``bm25s`` over the analysed texts."""
    import bm25s

    analyzer = Analyzer()
    bm25 = bm25s.BM25(k1=K1, b=B, method="lucene")
    bm25.index([analyzer.terms(t) for t in texts], show_progress=False)
    logging.getLogger("bm25s").setLevel(logging.NOTSET)

    class Reference(TextIndex):
        def __init__(self) -> None:
            self.size = len(texts)

        def scores(self, query: str) -> np.ndarray | None:
            ids = bm25.get_tokens_ids(analyzer.terms(query))
            if not ids:
                return None
            scores: np.ndarray = bm25.get_scores_from_ids(ids)
            return scores * np.float32(K1 + 1.0)

    return Reference()


def queries(texts: list[str], rng: random.Random) -> list[str]:
    words = sorted({w for t in texts for w in t.split() if w.isalpha()})
    picked = [" ".join(rng.sample(words, rng.randint(1, 6))) for _ in range(150)]
    return [*picked, "logging logs logged errors", "secrets secrets vault", "cafe resume", "zzzunknown", "the of"]


def assert_same(got: TextIndex, want: TextIndex, asked: list[str]) -> None:
    matched = 0
    for query in asked:
        a, b = got.scores(query), want.scores(query)
        assert (a is None) == (b is None), query
        if a is not None and b is not None:
            assert a.dtype == b.dtype == np.float32
            assert np.array_equal(a, b), query  # bit for bit, not approximately
            matched += int((a > 0).sum())
    assert matched > 1000  # the queries do match things


def keyed(cache: TermCache, keys: list[str], texts: list[str]) -> TextIndex:
    return TextIndex(cache.matrix(keys, lambda rows: [texts[r] for r in rows]))


def test_same_scores_as_bm25s() -> None:
    texts = paragraphs()
    assert_same(text_index(texts), reference(texts), queries(texts, random.Random(1)))


def test_after_changes_the_cached_terms_give_the_scores_of_a_fresh_build() -> None:
    """Chunks deleted, added, edited and moved: only the new ones are analysed, scores unchanged."""
    rng = random.Random(2)
    texts = paragraphs()
    cache = TermCache()
    keys = [f"k{i}" for i in range(len(texts))]
    keyed(cache, keys, texts)
    assert cache.analysed == len(texts)
    for step in range(4):
        kept = [i for i in range(len(texts)) if rng.random() > 0.05]
        new = [f"a new chunk {step}-{j} about {rng.choice(texts)[:80]} zebracorn{step}" for j in range(7)]
        rows = [(keys[i], texts[i]) for i in kept] + [(f"n{step}-{j}", t) for j, t in enumerate(new)]
        rng.shuffle(rows)
        keys, texts = [k for k, _ in rows], [t for _, t in rows]
        got = keyed(cache, keys, texts)
        assert cache.analysed == len(new)
        assert len(cache) == len(set(keys))  # entries of deleted chunks are gone
        asked = [*queries(texts, rng), f"zebracorn{step}", f"zebracorn{max(step - 1, 0)}"]
        assert_same(got, reference(texts), asked)


def test_the_vocabulary_and_word_memo_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Words of deleted chunks are renumbered away and the word memo restarts; scores stay exact."""
    monkeypatch.setattr(bm25_terms, "SPARE_TERMS", 10)
    monkeypatch.setattr(memory_text, "MAX_WORDS", 500)
    base = paragraphs()[:120]
    cache = TermCache()
    for step in range(6):
        extra = [" ".join(f"w{step}x{i}y{j}" for j in range(30)) for i in range(20)]  # 600 words only once
        texts = [*base, *extra]
        got = keyed(cache, [str(hash(t)) for t in texts], texts)
        assert len(cache._terms) <= 2 * len(got._matrix.columns) + 10
        assert cache._analyzer.words <= 500
        assert_same(got, reference(texts), [*queries(base, random.Random(step)), f"w{step}x3y4 w{step - 1}x3y4"])
    assert len(cache._terms) < len(text_index(base)._matrix.columns) + 6 * 600  # renumbered (else all kept)


def test_the_same_chunks_in_the_same_order_reuse_the_last_matrix() -> None:
    """A fold makes a new table version of the same rows: its copy takes the last matrix as it is."""
    texts = paragraphs()
    keys = [str(i) for i in range(len(texts))]
    cache = TermCache()
    first = cache.matrix(keys, lambda rows: [texts[r] for r in rows])
    assert cache.matrix(list(keys), lambda rows: pytest.fail("nothing to analyse")) is first
    assert cache.analysed == 0
    moved = [keys[-1], *keys[:-1]]
    assert cache.matrix(moved, lambda rows: pytest.fail("nothing to analyse")) is not first
