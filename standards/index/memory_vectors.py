"""Exact nearest-chunk and BM25 search over an in-memory copy of the index.

A LanceDB vector query costs 5-10 ms of planning and scanning per call on a small CPU even at a
few thousand chunks, a full-text query ~5 ms; one float32 matrix product over all chunks costs
well under a millisecond per thousand, and BM25 over a sparse matrix
(:mod:`standards.index.memory_text`) about as little. So a searcher keeps the vectors, the
full-text terms and the result columns of one table version in memory and answers both halves of
a query there: vectors exactly (no ANN recall loss), full text with LanceDB's own scores.

The copy is tied to the table version it was read at. When the version changes (a write), the
next query is answered by LanceDB as before while the new copy loads in the background, so
freshness never waits for the reload. Filters mirror ``store.build_filter`` (domain, source, all
tags, excluded docs). Tables over ``max_rows`` chunks are never copied (memory bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from standards.index.memory_text import TextIndex
from standards.index.store import RESULT_COLUMNS

if TYPE_CHECKING:
    from standards.index.store import ChunkStore

log = logging.getLogger(__name__)

#: Above this many chunks the copy is not kept: 150 MB of vectors at 384 dimensions, and a product
#: over them (run on the event loop) stays within a few milliseconds.
MAX_ROWS = 100_000
_COLUMNS = [*RESULT_COLUMNS, "tags_key", "search_text", "vector"]


class _Snapshot:
    def __init__(self, version: int, columns: dict[str, list[Any]], matrix: np.ndarray, text: TextIndex) -> None:
        self.version = version
        self.columns = columns
        self.matrix = matrix
        self.text = text
        self.domain = np.asarray(columns["domain"], dtype=object)
        self.source = np.asarray(columns["source"], dtype=object)
        self.doc = np.asarray(columns["doc"], dtype=object)
        self.tags_key = np.asarray(columns["tags_key"], dtype=object)

    def mask(
        self, domain: str | None, source: str | None, tags: tuple[str, ...], exclude_docs: list[str]
    ) -> np.ndarray | None:
        keep: np.ndarray | None = None

        def both(cond: np.ndarray) -> None:
            nonlocal keep
            keep = cond if keep is None else keep & cond

        if exclude_docs:
            both(~np.isin(self.doc, exclude_docs))
        if domain is not None:
            both(self.domain == domain)
        if source is not None:
            both(self.source == source)
        for tag in tags:
            needle = f"|{tag}|"
            both(np.fromiter((needle in key for key in self.tags_key), dtype=bool, count=len(self.tags_key)))
        return keep

    def nearest(self, vector: list[float], keep: np.ndarray | None, limit: int) -> list[dict[str, Any]]:
        # einsum, not BLAS: a matrix-vector product is memory-bound, and BLAS threads waking up on a
        # busy 2-core machine cost 10-50x the product itself
        sims = np.einsum("ij,j->i", self.matrix, np.asarray(vector, dtype=np.float32))
        if keep is not None:
            sims = np.where(keep, sims, -np.inf)
        return [{**row, "_distance": 1.0 - score} for row, score in self._top(sims, limit)]

    def matches(self, query: str, keep: np.ndarray | None, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` best BM25 matches of ``query`` (chunks with at least one of its words)."""
        scores = self.text.scores(query)
        if scores is None:
            return []
        scores = np.where(scores > 0, scores, -np.inf)
        if keep is not None:
            scores = np.where(keep, scores, -np.inf)
        return [{**row, "_score": score} for row, score in self._top(scores, limit)]

    def _top(self, scores: np.ndarray, limit: int) -> list[tuple[dict[str, Any], float]]:
        k = min(limit, len(scores))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        out: list[tuple[dict[str, Any], float]] = []
        for i in top:
            if not np.isfinite(scores[i]):
                break
            out.append(({name: self.columns[name][i] for name in RESULT_COLUMNS}, float(scores[i])))
        return out


class MemoryVectors:
    """In-memory exact vector search for one searcher; ``search`` returns None when not loaded yet."""

    def __init__(self, *, max_rows: int = MAX_ROWS) -> None:
        self._max_rows = max_rows
        self._snapshot: _Snapshot | None = None
        self._loading: asyncio.Task[None] | None = None
        self._too_big_at: int | None = None
        self._generation = 0

    def search(
        self,
        store: ChunkStore,
        version: int,
        vector: list[float],
        *,
        domain: str | None,
        source: str | None,
        tags: tuple[str, ...],
        exclude_docs: list[str],
        limit: int,
    ) -> list[dict[str, Any]] | None:
        """The ``limit`` nearest chunks passing the filters, or None (then ask the store) while the
        copy of ``version`` is not loaded; a load starts in the background."""
        snapshot = self._current(store, version)
        if snapshot is None:
            return None
        return snapshot.nearest(vector, snapshot.mask(domain, source, tags, exclude_docs), limit)

    def text_search(
        self,
        store: ChunkStore,
        version: int,
        query: str,
        *,
        domain: str | None,
        source: str | None,
        tags: tuple[str, ...],
        exclude_docs: list[str],
        limit: int,
    ) -> list[dict[str, Any]] | None:
        """The ``limit`` best full-text (BM25) matches passing the filters, with LanceDB's ``_score``,
        or None (then ask the store) while the copy of ``version`` is not loaded."""
        snapshot = self._current(store, version)
        if snapshot is None:
            return None
        return snapshot.matches(query, snapshot.mask(domain, source, tags, exclude_docs), limit)

    def _current(self, store: ChunkStore, version: int) -> _Snapshot | None:
        snapshot = self._snapshot
        if snapshot is not None and snapshot.version == version:
            return snapshot
        if self._too_big_at != version and (self._loading is None or self._loading.done()):
            self._loading = asyncio.create_task(self._load(store, version), name="memory-index-load")
        return None

    async def wait_loaded(self) -> None:
        """Wait for a background load to finish (for tests and benches)."""
        if self._loading is not None:
            with contextlib.suppress(Exception):
                await self._loading

    def forget(self) -> None:
        """Drop the copy (the table was replaced, e.g. rebuilt after damage: versions start over)."""
        self._generation += 1
        self._snapshot = None
        self._too_big_at = None

    async def close(self) -> None:
        self.forget()
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loading

    async def _load(self, store: ChunkStore, version: int) -> None:
        generation = self._generation
        try:
            rows = await store.count_rows()
            if rows > self._max_rows:
                self._too_big_at = version
                log.info("%d chunks: vector search stays on LanceDB (in-memory copy bound %d)", rows, self._max_rows)
                return
            table = await store.scan(_COLUMNS)
            snapshot = await asyncio.to_thread(_snapshot, version, table)
            if generation == self._generation:
                self._snapshot = snapshot
        except asyncio.CancelledError:
            raise
        except Exception:  # the store answers meanwhile; the next version change tries again
            log.warning("loading the in-memory vector copy failed", exc_info=True)


def _snapshot(version: int, table: Any) -> _Snapshot:
    vectors = table.column("vector").combine_chunks()
    width = vectors.type.list_size
    matrix = vectors.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, width)
    columns = {name: table.column(name).to_pylist() for name in [*RESULT_COLUMNS, "tags_key"]}
    text = TextIndex(table.column("search_text").to_pylist())
    return _Snapshot(version, columns, np.ascontiguousarray(matrix), text)
