"""One table version held in memory: result columns, vectors (numpy) and full-text terms (BM25).

Built by :class:`~standards.index.memory_vectors.MemoryVectors` on a thread from a scan of the
table; imported only then, so numpy, bm25s and PyStemmer stay out of a process that never searches.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from standards.index.bm25_terms import TermCache
from standards.index.memory_text import TextIndex
from standards.index.prefilter import Int8Prefilter, make_prefilter
from standards.index.store import RESULT_COLUMNS

#: Filter masks a snapshot keeps (each one bool per row: 20 KB at 20k chunks).
MAX_MASKS = 16


class Codes:
    """One string column as small integer codes, for filters: ``isin`` is a table look-up per row."""

    def __init__(self, values: list[Any]) -> None:
        index: dict[Any, int] = {}
        self.codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int32, count=len(values))
        self._index = index

    def __len__(self) -> int:
        return len(self.codes)

    def isin(self, values: list[Any]) -> np.ndarray:
        """Per row, whether its value is one of ``values`` (as ``np.isin`` over the strings)."""
        wanted = np.zeros(len(self._index) + 1, dtype=bool)  # never empty: a column without rows too
        wanted[[code for v in values if (code := self._index.get(v)) is not None]] = True
        hit: np.ndarray = wanted[self.codes]
        return hit


class Snapshot:
    """Exact nearest-chunk and BM25 search over one table version; filters as ``store.build_filter``."""

    def __init__(
        self,
        version: int,
        columns: dict[str, list[Any]],
        matrix: np.ndarray,
        text: TextIndex,
        *,
        timings: dict[str, float] | None = None,
        analysed: int = 0,
        previous: Snapshot | None = None,
    ) -> None:
        self.version = version
        self.columns = columns
        self.matrix = matrix
        self.text = text
        #: Each row's doc, domain and source as a code (see :class:`Codes`): a filter compares small
        #: integers, not 20k strings (an object-array comparison or ``np.isin`` cost ~0.5 ms each).
        self.doc = Codes(columns["doc"])
        self.domain = Codes(columns["domain"])
        self.source = Codes(columns["source"])
        self.tags_key = columns["tags_key"]
        #: The result columns in :data:`RESULT_COLUMNS` order (one row's dict is built from them).
        self._result_columns = [(name, columns[name]) for name in RESULT_COLUMNS]
        #: Recent filters' masks (a search asks twice, once per half; a server's searches mostly
        #: share one filter: the overridden docs). Bounded; a mask is a function of the filter alone.
        self._masks: dict[tuple[Any, ...], np.ndarray | None] = {}
        clock = time.thread_time()
        #: Narrows the float32 product to the rows that can be nearest (None: small tables, all rows);
        #: a function of the matrix alone, so the previous copy's when the vectors are the same (a fold).
        self.prefilter: Int8Prefilter | None
        if previous is not None and previous.matrix.shape == matrix.shape and np.array_equal(previous.matrix, matrix):
            self.prefilter = previous.prefilter
        else:
            self.prefilter = make_prefilter(matrix)
        #: Thread CPU seconds per stage of the build (logged, and printed by ``bench.reload_bench``).
        self.timings = {**(timings or {}), "prefilter": time.thread_time() - clock}
        #: Chunks whose full-text terms were made for this copy (the others' came from the cache).
        self.analysed = analysed

    def mask(
        self, domain: str | None, source: str | None, tags: tuple[str, ...], exclude_docs: list[str]
    ) -> np.ndarray | None:
        """The rows passing the filters (None: all rows); the same array for the same filters (read only)."""
        key = (domain, source, tags, tuple(exclude_docs))
        masks = self._masks
        if key in masks:
            return masks[key]
        keep = self._mask(domain, source, tags, exclude_docs)
        if keep is not None:
            keep.flags.writeable = False
        if len(masks) >= MAX_MASKS:
            masks.pop(next(iter(masks)), None)
        masks[key] = keep
        return keep

    def _mask(
        self, domain: str | None, source: str | None, tags: tuple[str, ...], exclude_docs: list[str]
    ) -> np.ndarray | None:
        keep: np.ndarray | None = None

        def both(cond: np.ndarray) -> None:
            nonlocal keep
            keep = cond if keep is None else keep & cond

        if exclude_docs:
            both(~self.doc.isin(exclude_docs))
        if domain is not None:
            both(self.domain.isin([domain]))
        if source is not None:
            both(self.source.isin([source]))
        for tag in tags:
            needle = f"|{tag}|"
            both(np.fromiter((needle in key for key in self.tags_key), dtype=bool, count=len(self.tags_key)))
        return keep

    def nearest(self, vector: np.ndarray | list[float], keep: np.ndarray | None, limit: int) -> list[dict[str, Any]]:
        query = np.asarray(vector, dtype=np.float32)
        k = min(limit, len(self.matrix))
        rows: np.ndarray | None = None
        if self.prefilter is not None and k > 0:
            rows = self.prefilter.candidates(query, keep, k)
            # einsum, not BLAS: a matrix-vector product is memory-bound, and BLAS threads waking up on a
            # busy 2-core machine cost 10-50x the product itself
            sims = np.einsum("ij,j->i", self.matrix[rows], query)
        else:
            sims = np.einsum("ij,j->i", self.matrix, query)
            if keep is not None:
                sims = np.where(keep, sims, -np.inf)
        return [self._result(row, "_distance", 1.0 - score) for row, score in self._top(sims, limit, rows)]

    def matches(self, query: str, keep: np.ndarray | None, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` best BM25 matches of ``query`` (chunks with at least one of its words)."""
        scores = self.text.scores(query)
        if scores is None:
            return []
        rows = np.flatnonzero(scores > 0)  # a query's words occur in a fraction of the chunks
        if keep is not None:
            rows = rows[keep[rows]]
        return [self._result(row, "_score", score) for row, score in self._top(scores[rows], limit, rows)]

    def _top(self, scores: np.ndarray, limit: int, rows: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``limit`` best finite ``scores`` as (row number, score), best first; ``rows`` maps
        positions in ``scores`` to row numbers (None: position = row)."""
        k = min(limit, len(scores))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        best = scores[top]
        if rows is not None:
            top = rows[top]
        return [(row, score) for row, score in zip(top.tolist(), best.tolist(), strict=True) if score != -np.inf]

    def _result(self, row: int, key: str, value: float) -> dict[str, Any]:
        """The result columns of one row, with its distance or score under ``key``."""
        out = {name: column[row] for name, column in self._result_columns}
        out[key] = value
        return out


def build_snapshot(
    version: int, table: Any, terms: TermCache | None = None, previous: Snapshot | None = None
) -> Snapshot:
    """The snapshot of ``version`` from a scan of ``memory_vectors.COLUMNS`` (blocking: run it on a
    thread); ``terms`` keeps the chunks' full-text terms for the next version's snapshot, and what
    ``previous`` (the copy it replaces) holds that the new one would compute again is reused."""
    clock = time.thread_time()
    vectors = table.column("vector").combine_chunks()
    width = vectors.type.list_size
    matrix = vectors.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, width)
    columns = {name: _untracked(table.column(name).to_pylist()) for name in [*RESULT_COLUMNS, "tags_key"]}
    timings = {"columns": time.thread_time() - clock}
    clock = time.thread_time()
    terms = TermCache() if terms is None else terms
    search_text = table.column("search_text")
    text = TextIndex(
        terms.matrix(table.column("chunk_hash").to_pylist(), lambda rows: search_text.take(rows).to_pylist())
    )
    timings["text"] = time.thread_time() - clock
    matrix = np.ascontiguousarray(matrix)
    return Snapshot(version, columns, matrix, text, timings=timings, analysed=terms.analysed, previous=previous)


def snapshot_from_rows(
    version: int, rows: list[dict[str, Any]], vectors: list[list[float]], terms: TermCache | None = None
) -> Snapshot:
    """The snapshot of rows not written anywhere yet, in table order, with their vectors (blocking):
    the same columns, matrix and BM25 terms :func:`build_snapshot` reads back once they are written.
    Rows without a ``chunk_hash`` are keyed by their search text (with a cache of their own)."""
    columns = {name: _untracked([row[name] for row in rows]) for name in [*RESULT_COLUMNS, "tags_key"]}
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(rows), -1)
    texts = [row["search_text"] for row in rows]
    hashed = all("chunk_hash" in row for row in rows)
    keys = [row["chunk_hash"] for row in rows] if hashed else texts
    terms = terms if terms is not None and hashed else TermCache()
    text = TextIndex(terms.matrix(keys, lambda picked: [texts[row] for row in picked]))
    return Snapshot(version, columns, np.ascontiguousarray(matrix), text, analysed=terms.analysed)


def _untracked(values: list[Any]) -> list[Any]:
    """List cells (paths, heading path, tags) as tuples: a tuple of strings is not tracked by the
    garbage collector, so the copy adds no objects to scan to every full collection (lists of
    20k chunks' cells tripled the cost of one: ~140 → ~290 ms on this machine)."""
    return [tuple(v) if isinstance(v, list) else v for v in values]
