"""One evaluation corpus held in memory, and its questions' inputs, for the tune-split search.

``bench/quality_tune.py`` scores many ranking variants per question; asking LanceDB for every
variant's inputs would be slow, so each corpus's index (built exactly as ``quality_bench`` builds it)
is read once: the result columns, title, chunk order, search text and vectors. Candidate lists are
then made as the server's in-memory copy makes them (``standards/index/snapshot.py``): the nearest
``DEPTH`` chunks by cosine and the best ``DEPTH`` BM25 matches of LanceDB's analyzer and BM25.
Variants of BM25 (other k1 / b, a field of path and title) and of the query vector (question words
dropped) are computed here and cached per corpus.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpora import Corpus, Question
from bench.quality_bench import build_index
from bench.quality_candidates import DEPTH
from standards.index import ranking
from standards.index.embedder import Embedder
from standards.index.memory_text import K1, Analyzer, B
from standards.index.store import RESULT_COLUMNS

Rows = list[dict[str, Any]]
_PATH_WORD = re.compile(r"[^\W_]+")


class Bm25:
    """BM25 over fixed texts with chosen k1 and b (LanceDB's analyzer; Lucene idf, as ``TextIndex``)."""

    def __init__(self, texts: list[str], analyzer: Analyzer, k1: float, b: float) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import
        self._analyzer = analyzer
        self._bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        self._bm25.index([analyzer.terms(t) for t in texts], show_progress=False)
        self.size = len(texts)

    def scores(self, query: str) -> np.ndarray:
        ids = self._bm25.get_tokens_ids(self._analyzer.terms(query))
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)


def path_words(file: str) -> str:
    """``review/reviewer/speed.md`` → ``review reviewer speed``."""
    return " ".join(_PATH_WORD.findall(file.removesuffix(".md")))


@dataclass
class Loaded:
    """One corpus's chunks in table order."""

    name: str
    rows: Rows
    matrix: np.ndarray
    search_text: list[str]
    analyzer: Analyzer = field(default_factory=Analyzer)
    _bm25: dict[tuple[str, float, float], Bm25] = field(default_factory=dict)
    #: (file, chunk_index) → row position, for neighbours
    position: dict[tuple[str, int], int] = field(default_factory=dict)
    _files: tuple[list[str], Bm25] = field(init=False)

    def __post_init__(self) -> None:
        self.position = {(r["file"], int(r["chunk_index"])): i for i, r in enumerate(self.rows)}

    def field_texts(self, name: str) -> list[str]:
        if name == "body":
            return self.search_text
        if name == "path+title":
            return [f"{path_words(r['file'])} {r['title']}" for r in self.rows]
        if name == "path+title+headings":
            return [f"{path_words(r['file'])} {r['title']} {' '.join(r['heading_path'] or [])}" for r in self.rows]
        raise ValueError(f"unknown BM25 field {name!r}")

    def bm25(self, name: str = "body", k1: float = K1, b: float = B) -> Bm25:
        key = (name, k1, b)
        if key not in self._bm25:
            self._bm25[key] = Bm25(self.field_texts(name), self.analyzer, k1, b)
        return self._bm25[key]

    def file_field(self) -> tuple[list[str], Bm25]:
        """BM25 over one text per file (its path words and title), idf over files."""
        if not hasattr(self, "_files"):
            titles: dict[str, str] = {}
            for r in self.rows:
                titles.setdefault(r["file"], r["title"])
            files = sorted(titles)
            self._files = (files, Bm25([f"{path_words(f)} {titles[f]}" for f in files], self.analyzer, K1, B))
        return self._files

    def top_rows(self, scores: np.ndarray, depth: int, key: str, *, positive: bool) -> Rows:
        """The ``depth`` best rows by ``scores`` (ties by table order), each with ``key`` set:
        ``_distance`` (1 - score) for similarities, ``_score`` for BM25 (only scores > 0)."""
        if positive:
            scores = np.where(scores > 0, scores, -np.inf)
        k = min(depth, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        out: Rows = []
        for i in top:
            if not np.isfinite(scores[i]):
                break
            value = 1.0 - float(scores[i]) if key == "_distance" else float(scores[i])
            out.append({**self.rows[i], key: value, "_pos": int(i)})
        return out


@dataclass
class Asked:
    """One question's inputs: query vectors, full cosine similarities, and BM25 query texts."""

    question: Question
    sims: np.ndarray
    sims_plain: np.ndarray
    sims_mixed: np.ndarray
    text: str
    text_plain: str
    _text_cache: dict[tuple[str, float, float, bool], Rows] = field(default_factory=dict)

    def file_scores(self, corpus: Loaded) -> dict[str, float]:
        """Each file's path-and-title BM25 score for the question, divided by the best (no match: {})."""
        files, bm25 = corpus.file_field()
        scores = bm25.scores(self.text)
        best = float(scores.max(initial=0.0))
        return {f: float(s) / best for f, s in zip(files, scores, strict=True) if s > 0} if best > 0 else {}

    def vector_rows(self, corpus: Loaded, which: str = "question", depth: int = DEPTH) -> Rows:
        sims = {"question": self.sims, "plain": self.sims_plain, "mixed": self.sims_mixed}[which]
        return corpus.top_rows(sims, depth, "_distance", positive=False)

    def text_rows(
        self, corpus: Loaded, name: str = "body", k1: float = K1, b: float = B, *, plain: bool = False
    ) -> Rows:
        key = (name, k1, b, plain)
        if key not in self._text_cache:
            scores = corpus.bm25(name, k1, b).scores(self.text_plain if plain else self.text)
            self._text_cache[key] = corpus.top_rows(scores, DEPTH, "_score", positive=True)
        return self._text_cache[key]


async def load(corpus: Corpus, work: Path, embedder: Embedder) -> tuple[Loaded, list[Asked]]:
    """Build (or reuse) the corpus's index like ``quality_bench``, read it, and embed its questions."""
    index, _ = await build_index(corpus, work, embedder)
    columns = [*RESULT_COLUMNS, "title", "chunk_index", "search_text", "vector"]
    table = await index._store._t().query().select(columns).to_arrow()
    await index.stop()
    vectors = table.column("vector").combine_chunks()
    width = vectors.type.list_size
    matrix = vectors.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, width)
    rows = table.drop_columns(["vector", "search_text"]).to_pylist()
    loaded = Loaded(corpus.name, rows, np.ascontiguousarray(matrix), table.column("search_text").to_pylist())
    texts = [q.question for q in corpus.questions]
    plain = [ranking.fts_query_text(t, drop_question_words=True) for t in texts]
    # one at a time, as a search embeds its query (int8 activations are quantised per batch)
    qv = np.asarray([embedder.embed([t])[0] for t in texts], dtype=np.float32)
    pv = np.asarray([embedder.embed([t])[0] for t in plain], dtype=np.float32)
    mixed = qv + pv
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    asked = [
        Asked(
            question=q,
            sims=loaded.matrix @ qv[i],
            sims_plain=loaded.matrix @ pv[i],
            sims_mixed=loaded.matrix @ mixed[i],
            text=ranking.fts_query_text(q.question),
            text_plain=plain[i],
        )
        for i, q in enumerate(corpus.questions)
    ]
    return loaded, asked
