"""BM25 full-text scoring over an in-memory copy of the chunks' search text.

A LanceDB full-text query costs ~5 ms per search on a small CPU (query planning, its own thread
pool, reading posting lists); the same BM25 over a sparse matrix in memory costs well under a
millisecond at 20k chunks. :class:`TextIndex` reproduces LanceDB's default full-text index
(``lancedb.index.FTS()``) so that its scores are LanceDB's ``_score``:

- the analyzer: "simple" tokenizer (split on anything not a letter or digit), tokens of 40 bytes
  or more dropped, lower case, English Snowball stemmer, English stop words dropped *after*
  stemming (so "does" → "doe" stays, "having" → "have" goes), ASCII folding;
- BM25 with k1 = 1.2, b = 0.75 and the Lucene idf, a query matching any of its words.

The weights are ``bm25s``'s (Lucene idf), computed by :mod:`standards.index.bm25_terms` from each
chunk's terms, which it keeps across reloads; a query's score is the sum of its terms' weights (each
term as often as the query holds it, in the query's order, as ``bm25s`` sums them). Stemming is done
by PyStemmer, imported when the first analyser is made, never at import time.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

#: LanceDB's BM25 parameters (lance-index ``scorer``); bm25s's Lucene scores lack the (k1 + 1) factor.
K1 = 1.2
B = 0.75
#: Tokens this long (UTF-8 bytes) or longer are not indexed (LanceDB's ``max_token_length``).
MAX_TOKEN_BYTES = 40
_WORD = re.compile(r"[^\W_]+")
#: Words (lower-cased, before stemming) an analyser remembers with their term at most; then it starts
#: afresh (a long-lived copy's queries, the kept terms' analyser across reloads).
MAX_WORDS = 200_000


class Analyzer:
    """Text → index terms, as LanceDB's default English full-text analyzer makes them."""

    def __init__(self) -> None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN_PLUS

        logging.getLogger("bm25s").setLevel(logging.NOTSET)  # it sets DEBUG on import: follow ours instead

        self._stemmer = Stemmer.Stemmer("english")
        self._stop = frozenset(STOPWORDS_EN_PLUS)
        self._terms: dict[str, str | None] = {}  # lower-cased word → term (None: a stop word)

    @property
    def words(self) -> int:
        """Distinct words remembered (each with its term)."""
        return len(self._terms)

    def terms(self, text: str) -> list[str]:
        out: list[str] = []
        known = self._terms
        for word in _WORD.findall(text):
            lower = word.lower()
            term = known.get(lower, "")
            if term == "":
                term = self._term(lower)
                if len(known) >= MAX_WORDS:
                    known.clear()
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


@dataclass(frozen=True)
class Bm25Matrix:
    """BM25 weights of one list of texts, by term (compressed sparse columns)."""

    #: term → column
    columns: dict[str, int]
    #: column c's entries are ``docs[indptr[c]:indptr[c + 1]]`` (ascending) and their ``weights``
    indptr: np.ndarray
    docs: np.ndarray
    weights: np.ndarray
    #: number of texts (rows)
    size: int


class TextIndex:
    """BM25 over a fixed list of texts (one table version); ``scores`` gives one score per text."""

    def __init__(self, matrix: Bm25Matrix) -> None:
        self._matrix = matrix
        self._analyzer = Analyzer()  # the query's own: the loading thread's analyser is not shared
        self.size = matrix.size

    def scores(self, query: str) -> np.ndarray | None:
        """LanceDB's ``_score`` of every text for ``query`` (0 where no query word occurs), or None
        when no word of the query occurs in any text."""
        matrix = self._matrix
        columns = [c for term in self._analyzer.terms(query) if (c := matrix.columns.get(term)) is not None]
        if not columns:
            return None
        scores = np.zeros(matrix.size, dtype=np.float32)
        indptr, docs, weights = matrix.indptr, matrix.docs, matrix.weights
        for column in columns:
            start, end = indptr[column], indptr[column + 1]
            scores[docs[start:end]] += weights[start:end]  # a document once per term: no repeated index
        return scores * np.float32(K1 + 1.0)
