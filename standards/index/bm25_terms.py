"""Each chunk's full-text terms, kept across reloads of the in-memory copy, and the BM25 matrix built
from them.

After every write the in-memory copy is read again from the table. Analysing every chunk's text again
(tokenising and stemming: ~0.35 s of CPU at 12k chunks) and letting ``bm25s`` build its matrix in a
Python loop over the chunks (~0.3 s) made each reload cost ~0.65 s of CPU for the few chunks a saved
file changed. :class:`TermCache` keeps each chunk's terms (as term ids with their counts) under the
chunk's content key, the ``chunk_hash`` the indexer stores with each row (the SHA-256 of its search
text, the key the index already reuses vectors by), so a reload analyses only the chunks it has not
seen, and builds the matrix with whole-array operations.

BM25's weights depend on every chunk (the average length, each term's document frequency), so the
matrix is recomputed in full on every reload, exactly as ``bm25s`` 0.3 computes it with
``method="lucene"`` (the same float64 operations in the same order, rounded to float32 where it
rounds): weight = float32(float32(idf) * tf / (k1 * ((1 - b) + b * len / avg_len) + tf)), idf =
float32(log(1 + (N - df + 0.5) / (df + 0.5))). A test holds the scores bit for bit to ``bm25s``'s.

Bounded: entries of chunks no longer in the table are dropped on every reload; the term vocabulary
is renumbered to the live terms when dead ones outnumber them, and the analyser's word memo is
capped (:data:`~standards.index.memory_text.MAX_WORDS`). Blocking: used on the loading thread.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

import numpy as np

from standards.index.memory_text import K1, Analyzer, B, Bm25Matrix, TextIndex

#: Dead term ids tolerated beyond the live ones before the vocabulary is renumbered.
SPARE_TERMS = 20_000

#: One chunk: its distinct term ids (ascending), how often each occurs, and its length in terms.
Entry = tuple[np.ndarray, np.ndarray, int]


class TermCache:
    """Term ids and counts per chunk content key; :meth:`matrix` builds one version's BM25 matrix."""

    def __init__(self) -> None:
        self._analyzer = Analyzer()
        self._ids: dict[str, int] = {}  # term → id
        self._terms: list[str] = []  # id → term
        self._chunks: dict[str, Entry] = {}
        self._last: tuple[list[str], Bm25Matrix] | None = None  # the keys and matrix of the last build
        self._lock = threading.Lock()  # one build at a time (a cancelled load's thread may still run)
        #: Chunks the last :meth:`matrix` call had to analyse (the rest came from the cache).
        self.analysed = 0

    def __len__(self) -> int:
        return len(self._chunks)

    def matrix(self, keys: Sequence[str], texts: Callable[[list[int]], list[str]]) -> Bm25Matrix:
        """The BM25 matrix of the texts whose content keys are ``keys`` (in row order); ``texts(rows)``
        gives the texts of those row numbers, asked only for keys not seen before."""
        with self._lock:
            last = self._last
            if last is not None and last[0] == keys:  # the same chunks in the same order (a fold)
                self.analysed = 0
                return last[1]
            chunks = self._chunks
            missing: dict[str, int] = {}
            for row, key in enumerate(keys):
                if key not in chunks and key not in missing:
                    missing[key] = row
            if missing:
                for key, text in zip(missing, texts(list(missing.values())), strict=True):
                    chunks[key] = self._entry(text)
            self.analysed = len(missing)
            entries = [chunks[key] for key in keys]
            self._chunks = dict(zip(keys, entries, strict=True))  # the deleted chunks' entries go
            built = self._build(entries)
            self._bound(built)
            self._last = (list(keys), built)
            return built

    def _entry(self, text: str) -> Entry:
        ids = self._ids
        terms = self._terms
        numbered: list[int] = []
        for term in self._analyzer.terms(text):
            term_id = ids.get(term)
            if term_id is None:
                term_id = ids[term] = len(terms)
                terms.append(term)
            numbered.append(term_id)
        unique, counts = np.unique(np.asarray(numbered, dtype=np.int32), return_counts=True)
        return unique.astype(np.int32, copy=False), counts.astype(np.int32), len(numbered)

    def _build(self, entries: list[Entry]) -> Bm25Matrix:
        n = len(entries)
        width = np.fromiter((len(e[0]) for e in entries), dtype=np.int64, count=n)
        # int64 as bm25s's np.array([len(doc) ...]), so the mean is the same float64
        lengths = np.fromiter((e[2] for e in entries), dtype=np.int64, count=n)
        ids = np.concatenate([e[0] for e in entries]) if n else np.zeros(0, dtype=np.int32)
        counts = np.concatenate([e[1] for e in entries]) if n else np.zeros(0, dtype=np.int32)
        frequency = np.bincount(ids, minlength=len(self._terms))  # documents holding each term
        live = np.flatnonzero(frequency)
        column_of = np.full(len(self._terms), -1, dtype=np.int64)
        column_of[live] = np.arange(len(live))
        cols = column_of[ids]
        tf = counts.astype(np.float64)
        doc_length = np.repeat(lengths, width).astype(np.float64)
        avg_length = lengths.mean() if n else np.float64(0.0)
        tfc = tf / (K1 * ((1 - B) + B * doc_length / avg_length) + tf)
        weights = (_idf(frequency[live], n)[cols].astype(np.float64) * tfc).astype(np.float32)
        docs = np.repeat(np.arange(n, dtype=np.int32), width)
        order = np.argsort(cols, kind="stable")  # by column, documents ascending within each
        indptr = np.zeros(len(live) + 1, dtype=np.int64)
        np.cumsum(np.bincount(cols, minlength=len(live)), out=indptr[1:])
        terms = self._terms
        columns = {terms[term_id]: column for column, term_id in enumerate(live.tolist())}
        return Bm25Matrix(columns, indptr, docs[order], weights[order], n)

    def _bound(self, built: Bm25Matrix) -> None:
        """Renumber the vocabulary to the live terms when dead ones pile up."""
        if len(self._terms) > 2 * len(built.columns) + SPARE_TERMS:
            renumber = np.full(len(self._terms), -1, dtype=np.int32)
            live = list(built.columns)  # in column order = ascending old ids, so ids stay ascending
            renumber[[self._ids[t] for t in live]] = np.arange(len(live), dtype=np.int32)
            self._terms = live
            self._ids = {term: i for i, term in enumerate(live)}
            self._chunks = {key: (renumber[ids], counts, n) for key, (ids, counts, n) in self._chunks.items()}


def text_index(texts: list[str]) -> TextIndex:
    """BM25 over ``texts`` (each text its own key), with a cache of its own."""
    return TextIndex(TermCache().matrix(texts, lambda rows: [texts[row] for row in rows]))


def _idf(frequency: np.ndarray, n: int) -> np.ndarray:
    """float32 Lucene idf of each document frequency, as bm25s computes it (``math.log`` per value)."""
    if not len(frequency):
        return np.zeros(0, dtype=np.float32)
    values, inverse = np.unique(frequency, return_inverse=True)
    table = np.array([math.log(1 + (n - df + 0.5) / (df + 0.5)) for df in values.tolist()], dtype=np.float32)
    result: np.ndarray = table[inverse]
    return result
