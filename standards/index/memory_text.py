"""BM25 full-text scoring over an in-memory copy of the chunks' search text.

A LanceDB full-text query costs ~5 ms per search on a small CPU (query planning, its own thread
pool, reading posting lists); the same BM25 over a sparse matrix in memory costs well under a
millisecond at 20k chunks. :class:`TextIndex` reproduces LanceDB's default full-text index
(``lancedb.index.FTS()``) so that its scores are LanceDB's ``_score``:

- the analyzer: "simple" tokenizer (split on anything not a letter or digit), tokens of 40 bytes
  or more dropped, lower case, English Snowball stemmer, English stop words dropped *after*
  stemming (so "does" → "doe" stays, "having" → "have" goes), ASCII folding;
- BM25 with k1 = 1.2, b = 0.75 and the Lucene idf, a query matching any of its words.

Scoring is done by ``bm25s`` (sparse matrices) and stemming by PyStemmer; both are imported when
the first index is built, never at import time. Building is blocking (run it on a thread).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

import numpy as np

#: LanceDB's BM25 parameters (lance-index ``scorer``); bm25s's Lucene scores lack the (k1 + 1) factor.
K1 = 1.2
B = 0.75
#: Tokens this long (UTF-8 bytes) or longer are not indexed (LanceDB's ``max_token_length``).
MAX_TOKEN_BYTES = 40
_WORD = re.compile(r"[^\W_]+")


class Analyzer:
    """Text → index terms, as LanceDB's default English full-text analyzer makes them."""

    def __init__(self) -> None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN_PLUS

        self._stemmer = Stemmer.Stemmer("english")
        self._stop = frozenset(STOPWORDS_EN_PLUS)
        self._terms: dict[str, str | None] = {}  # lower-cased word → term (None: a stop word)

    def terms(self, text: str) -> list[str]:
        out: list[str] = []
        known = self._terms
        for word in _WORD.findall(text):
            lower = word.lower()
            term = known.get(lower, "")
            if term == "":
                term = self._term(lower)
                known[lower] = term
            if term is not None:
                out.append(term)
        return out

    def _term(self, lower: str) -> str | None:
        if len(lower.encode()) >= MAX_TOKEN_BYTES:
            return None
        stem: str = self._stemmer.stemWord(lower)
        if stem in self._stop:
            return None
        if not stem.isascii():
            stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode() or stem
        return stem


class TextIndex:
    """BM25 over a fixed list of texts (one table version); ``scores`` gives one score per text."""

    def __init__(self, texts: list[str], analyzer: Analyzer | None = None) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.NOTSET)  # it sets DEBUG on import: follow ours instead
        self._analyzer = analyzer or Analyzer()
        self.size = len(texts)
        self._bm25: Any = None
        if texts:
            self._bm25 = bm25s.BM25(k1=K1, b=B, method="lucene")
            self._bm25.index([self._analyzer.terms(t) for t in texts], show_progress=False)

    def scores(self, query: str) -> np.ndarray | None:
        """LanceDB's ``_score`` of every text for ``query`` (0 where no query word occurs), or None
        when no word of the query occurs in any text."""
        if self._bm25 is None:
            return None
        ids = self._bm25.get_tokens_ids(self._analyzer.terms(query))
        if not ids:
            return None
        scores: np.ndarray = self._bm25.get_scores_from_ids(ids)
        return scores * np.float32(K1 + 1.0)
