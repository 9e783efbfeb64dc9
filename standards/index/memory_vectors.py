"""Exact nearest-chunk and BM25 search over an in-memory copy of the index.

A LanceDB vector query costs 5-10 ms of planning and scanning per call on a small CPU even at a
few thousand chunks, a full-text query ~5 ms; one float32 matrix product over all chunks costs
well under a millisecond per thousand, and BM25 over a sparse matrix
(:mod:`standards.index.memory_text`) about as little. So a searcher keeps the vectors, the
full-text terms and the result columns of one table version in memory and answers both halves of
a query there: vectors exactly (no ANN recall loss), full text with LanceDB's own scores.

The copy is tied to the table version it was read at. When the version changes (a write), the
next query is answered by LanceDB as before while the new copy loads in the background, so
freshness never waits for the reload. A reload analyses only the chunks it has not seen
(:mod:`standards.index.bm25_terms` keeps each chunk's full-text terms) and keeps the previous copy's
int8 prefilter when the vectors are the same (a fold): ~0.2 s of CPU after a one-file write at 12k
chunks, ~0.1 s after its fold, against ~1.1 s for either before. Filters mirror
``store.build_filter`` (domain, source, all tags, excluded docs). Tables over ``max_rows`` chunks
are never copied (memory bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from typing import TYPE_CHECKING, Any

from standards.index.store import RESULT_COLUMNS

if TYPE_CHECKING:
    from standards.index.bm25_terms import TermCache
    from standards.index.snapshot import Snapshot
    from standards.index.store import ChunkStore

log = logging.getLogger(__name__)

#: Above this many chunks the copy is not kept: 150 MB of vectors at 384 dimensions, and a product
#: over them (run on the event loop) stays within a few milliseconds.
MAX_ROWS = 100_000
#: Columns a snapshot is built from.
COLUMNS = [*RESULT_COLUMNS, "tags_key", "search_text", "chunk_hash", "vector"]


class MemoryVectors:
    """In-memory exact vector search for one searcher; ``search`` returns None when not loaded yet."""

    def __init__(self, *, max_rows: int = MAX_ROWS) -> None:
        self._max_rows = max_rows
        self._snapshot: Snapshot | None = None
        self._loading: asyncio.Task[None] | None = None
        self._too_big_at: int | None = None
        self._generation = 0
        self._frozen = False
        #: A copy has been loaded (and searched from) in this process: worth reloading after a write.
        self.in_use = False
        #: Each chunk's full-text terms, kept from one copy to the next (made on the loading thread).
        self._terms: TermCache | None = None

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
        load: bool = True,
    ) -> list[dict[str, Any]] | None:
        """The ``limit`` nearest chunks passing the filters, or None (then ask the store) while the
        copy of ``version`` is not loaded; a load starts in the background unless ``load`` is False
        (while the index is being built its version changes with every batch: a copy would be stale
        before it is done)."""
        snapshot = self._current(store, version, load=load)
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
        load: bool = True,
    ) -> list[dict[str, Any]] | None:
        """The ``limit`` best full-text (BM25) matches passing the filters, with LanceDB's ``_score``,
        or None (then ask the store) while the copy of ``version`` is not loaded (``load`` as in
        :meth:`search`)."""
        snapshot = self._current(store, version, load=load)
        if snapshot is None:
            return None
        return snapshot.matches(query, snapshot.mask(domain, source, tags, exclude_docs), limit)

    def _current(self, store: ChunkStore, version: int, *, load: bool) -> Snapshot | None:
        snapshot = self._snapshot
        if snapshot is not None and snapshot.version == version:
            return snapshot
        if load and self._too_big_at != version and (self._loading is None or self._loading.done()):
            self._loading = asyncio.create_task(self._load(store, version), name="memory-index-load")
        return None

    async def load(self, store: ChunkStore, version: int) -> None:
        """Load the copy of ``version`` now (if it is not loaded or loading) and wait for it."""
        self._current(store, version, load=True)
        await self.wait_loaded()

    async def reload(self, store: ChunkStore) -> None:
        """Load the copy of the table's current version now, once a load of an older one is done
        (the writer calls it after each of its writes, so searches find the new copy loaded)."""
        await self.wait_loaded()
        try:
            version = await store.version()
        except Exception:  # closed or unreadable meanwhile: the next search sees to it
            return
        await self.load(store, version)

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

    def _freeze_once(self) -> None:
        """In a process that keeps its long-lived objects out of the cyclic collector (``personas
        serve`` freezes what start-up built), freeze once more after the first copy: the modules a
        search imports lazily (numpy, LanceDB, pyarrow, ONNX Runtime, bm25s: ~120k objects) would
        otherwise be rescanned by every full collection, ~80-100 ms every few hundred searches at
        20k chunks (~0.45 ms per search on average, and a pause in one of them)."""
        if self._frozen or gc.get_freeze_count() == 0:
            return
        self._frozen = True
        gc.collect(1)  # the young garbage goes first (what is frozen is never collected)
        gc.freeze()

    def term_cache(self) -> TermCache:
        """The cache of the chunks' full-text terms (blocking the first time: imports numpy and
        PyStemmer; call it on a thread)."""
        if self._terms is None:
            from standards.index.bm25_terms import TermCache

            self._terms = TermCache()
        return self._terms

    def _build(self, version: int, table: Any) -> Snapshot:
        # imported here, on the loading thread: numpy, bm25s and PyStemmer take a while to import
        from standards.index.snapshot import build_snapshot

        return build_snapshot(version, table, self.term_cache(), previous=self._snapshot)

    async def _load(self, store: ChunkStore, version: int) -> None:
        generation = self._generation
        try:
            rows = await store.count_rows()
            if rows > self._max_rows:
                self._too_big_at = version
                log.info("%d chunks: vector search stays on LanceDB (in-memory copy bound %d)", rows, self._max_rows)
                return
            started = time.perf_counter()
            table = await store.scan(COLUMNS)
            scanned = time.perf_counter()
            snapshot = await asyncio.to_thread(self._build, version, table)
            log.debug(
                "in-memory copy of version %d: %d chunks (%d analysed) in %.0f ms (scan %.0f ms; CPU ms: %s)",
                version,
                len(snapshot.matrix),
                snapshot.analysed,
                (time.perf_counter() - started) * 1000,
                (scanned - started) * 1000,
                ", ".join(f"{stage} {seconds * 1000:.0f}" for stage, seconds in snapshot.timings.items()),
            )
            if generation == self._generation:
                self._snapshot = snapshot
                self.in_use = True
                self._freeze_once()
        except asyncio.CancelledError:
            raise
        except Exception:  # the store answers meanwhile; the next version change tries again
            log.warning("loading the in-memory vector copy failed", exc_info=True)
