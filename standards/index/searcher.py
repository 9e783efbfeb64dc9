"""What every view of the standards index shares: hybrid search, the file listing, reading a standard.

Two types build on :class:`IndexSearcher`: :class:`~standards.index.writer.IndexWriter` (the one
process that builds the index and keeps it fresh, holding the writer lock) and
:class:`~standards.index.reader.IndexReader` (any other process: workers, ``personas doctor``, a
second server, ``personas search`` while a server runs). They differ only in how the table is
opened, how a failed search is recovered and how re-index work is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from standards.index import bootstrap
from standards.index.counts import QueryCounter
from standards.index.embedder import Embedder, make_embedder
from standards.index.memory_vectors import MemoryVectors
from standards.index.models import SOURCE_KINDS, IndexConfig, IndexStatus, SearchHit, SearchResponse, StandardFile
from standards.index.ranking import candidate_depth
from standards.index.scope import DocScope, SourceView, validate_paths, validate_unaccepted
from standards.index.search import (
    ResultCache,
    apply_path_scope,
    fts_query_text,
    rank,
    validate_filters,
    validate_query,
)
from standards.index.sources import read_capped, safe_resolve
from standards.index.store import ChunkStore, StoreCorrupt, build_filter

log = logging.getLogger(__name__)


class FtsUnavailable(Exception):
    """The full-text index failed while the rest of the table is fine (damaged index files)."""


class IndexSearcher:
    """Search, listing and reading over one index folder; subclasses decide how it is written."""

    def __init__(self, config: IndexConfig, embedder: Embedder | None = None) -> None:
        self.config = config
        self._embedder: Embedder = embedder or make_embedder(config.model_path, backend=config.embedding_backend)
        self._store = ChunkStore(config.index_dir / "lancedb", writer=self._writes)
        self._counter = QueryCounter(config.counts_database or config.index_dir / "query_counts.sqlite3")
        self._vectors = MemoryVectors()
        self._cache = ResultCache(on_clear=self._vectors.forget)
        self._status = IndexStatus(state="empty", message="not started")
        self._settled = asyncio.Event()
        self._listeners: list[Callable[[list[str]], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._view: tuple[int, SourceView] | None = None
        #: Answers searches while a new table is built (writer only, see :mod:`standards.index.bootstrap`).
        self._startup: bootstrap.StartupCopy | None = None
        #: Set once :meth:`prepare` is done; None when it never ran (readers, or no copy to make).
        self._preparing: asyncio.Event | None = None

    #: Whether this type creates and writes the table (class constant, never switched on at run time).
    _writes = False

    # ----------------------------------------------------------------- lifecycle

    async def prepare(self) -> None:
        """Work worth doing before LanceDB is imported (called before :meth:`start`; default none)."""

    async def start(self, *, watch: bool = True) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._vectors.close()
        await self._counter.stop()
        self._store.close()

    async def _wait_idle(self) -> None:
        """Wait for background work (reconcile, optimize, status writes) to finish (for tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ----------------------------------------------------------------- status

    def status(self) -> IndexStatus:
        startup = self._startup
        if startup is not None and self._status.state in ("empty", "building"):  # not started, or building
            # every file's chunks are searchable (from the start-up copy) while the table is built
            update = {
                "state": "ready",
                "message": bootstrap.MESSAGE,
                "chunks": startup.chunks,
                "files_indexed": startup.files,
                "files_total": max(startup.files, self._status.files_total),
            }
            return self._status.model_copy(update=update)
        return self._status.model_copy()

    async def wait_ready(self, timeout: float) -> IndexStatus:  # noqa: ASYNC109 (public API)
        """Wait until the index is no longer building (ready, empty, stale or error), up to ``timeout`` s."""
        raise NotImplementedError

    def add_listener(self, cb: Callable[[list[str]], None]) -> None:
        """``cb(files)`` runs after every index change made by this process with the changed paths."""
        self._listeners.append(cb)

    async def reindex_paths(self, paths: list[Path]) -> None:
        """Re-index these files or folders (created, changed, deleted or renamed)."""
        raise NotImplementedError

    async def probe_fts(self) -> str | None:
        """None if the full-text index answers a query (or there is no table yet), else the problem."""
        return await self._store.probe_fts() if self._store.is_open else None

    async def fts_coverage(self) -> tuple[int, int] | None:
        """(indexed, unindexed) rows of the full-text index, None if the table is not open."""
        if not self._store.is_open:
            return None
        return await self._store.fts_coverage()

    # ----------------------------------------------------------------- reading

    async def search(
        self,
        query: str,
        *,
        domain: str | None = None,
        tags: list[str] | None = None,
        source: str | None = None,
        limit: int = 5,
        paths: list[str] | None = None,
        unaccepted: list[str] | None = None,
    ) -> SearchResponse:
        """Top chunks for ``query``; identical queries are answered from a cache until the index changes.

        ``paths`` (project-relative files, e.g. those under review): standards scoped to other paths
        are left out, those scoped to these paths ranked first; unscoped ones are unaffected.
        ``unaccepted`` (doc keys such as ``project:security/x.md``, the standards a reviewed change
        edits): left out, and precedence is decided without them, so a weaker source's copy of a
        file they would override is returned.
        """
        started = time.perf_counter()
        text = validate_query(query)
        domain, tag_tuple, source = validate_filters(domain, tags, source, limit)
        scope_paths = validate_paths(paths)
        distrusted = validate_unaccepted(unaccepted)
        if (preparing := self._preparing) is not None and not preparing.is_set():
            # the start-up copy is being made (well under a second): an answer from it beats "not started"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(preparing.wait(), bootstrap.PREPARE_WAIT_SECONDS)
        if (startup := self._startup) is not None:
            return await self._search_startup(
                startup, text, domain, tag_tuple, source, limit, scope_paths, started, distrusted
            )
        if not await self._ensure_open():
            return self._response(text, [], started, cached=False)
        args = {
            "domain": domain,
            "tag_tuple": tag_tuple,
            "source": source,
            "limit": limit,
            "paths": scope_paths,
            "unaccepted": distrusted,
        }
        try:
            return await self._search_once(text, started=started, **args)  # type: ignore[arg-type]
        except FtsUnavailable as exc:
            # The vector half still answers; the full-text index is rebuilt (writer) or reported.
            await self._fts_failed(exc)
            return await self._search_once(text, started=started, full_text=False, **args)  # type: ignore[arg-type]
        except Exception as exc:
            return await self._search_failed(exc, text, started, args)

    async def _ensure_open(self) -> bool:
        """Open the table if this type can; False when there is nothing to search yet."""
        return self._store.is_open

    async def _search_failed(self, exc: Exception, text: str, started: float, args: dict[str, Any]) -> SearchResponse:
        raise exc

    async def _fts_failed(self, exc: FtsUnavailable) -> None:
        log.warning("full-text index unreadable (%s); answering from vectors only", exc)

    async def _before_query(self, version: int) -> None:
        """Hook run with the table version before each uncached query."""

    async def _search_once(
        self,
        text: str,
        *,
        domain: str | None,
        tag_tuple: tuple[str, ...],
        source: str | None,
        limit: int,
        started: float,
        paths: tuple[str, ...] = (),
        unaccepted: frozenset[str] = frozenset(),
        full_text: bool = True,
    ) -> SearchResponse:
        version = await self._store.version()
        await self._before_query(version)
        self._cache.check_version(version)
        mode = self.config.search_mode if full_text else "vector"
        distrusted = (await self._source_view(version)).known(unaccepted) if unaccepted else ()
        key = (text, domain, tag_tuple, source, limit, mode, paths, distrusted)
        entry = self._cache.get(key)
        if entry is not None:
            self._counter.record(entry[1])
            return self._response(text, entry[0], started, cached=True)
        view = await self._source_view(version)
        excluded = view.excluded(paths, distrusted)
        filters: dict[str, Any] = {"domain": domain, "source": source, "tags": tag_tuple, "exclude_docs": excluded}
        # no in-memory copy of a table still being built (LanceDB answers until the build is done)
        filters["load"] = self._status.state != "building"
        fts_text = fts_query_text(text) if mode == "hybrid" else ""
        depth = candidate_depth(limit)
        pool = depth if paths else limit  # scoped hits deeper in the ranking can still move up
        # A loaded ONNX model embeds the query right here (~2-3 ms of CPU): the hop to a thread and
        # back cost more CPU and time than overlapping it with the full-text half won (A/B at 20k
        # chunks: -0.3 to -0.6 ms of server CPU per search, -0.4 ms p50). Otherwise (the model still
        # loading, torch) the query is embedded on a thread while the full-text half runs here.
        vector = self._embed_if_loaded(text)
        embedding = None
        if vector is None:
            embedding = asyncio.ensure_future(asyncio.to_thread(self._embedder.embed, [text]))
        text_task: asyncio.Future[list[dict[str, Any]]] | None = None
        text_rows: list[dict[str, Any]] | None = None
        try:
            if fts_text:
                text_rows = self._vectors.text_search(self._store, version, fts_text, limit=depth, **filters)
                if text_rows is None:  # the in-memory copy of this version is still loading
                    text_task = asyncio.ensure_future(self._store.text_search(fts_text, self._where(filters), depth))
            if embedding is not None:
                vector = (await embedding)[0]
            assert vector is not None
            # deep (depth, not limit): document aggregation uses a file's other chunks
            vector_rows = self._vectors.search(self._store, version, vector, limit=depth, **filters)
            if vector_rows is None:  # the in-memory copy of this version is still loading
                vector_rows = await self._store.vector_search(vector, self._where(filters), depth)
            if text_task is not None:
                text_rows = await self._text_rows(text_task)
        finally:
            for pending in (embedding, text_task):
                if pending is not None and not pending.done():
                    pending.cancel()
        ranked = rank(vector_rows, text_rows, pool)
        ranked = apply_path_scope(ranked, view.matching(paths), view.overrides_without(distrusted), limit)
        hits = [hit for _, hit in ranked]
        docs = sorted({doc for doc, _ in ranked})
        self._cache.put(key, (hits, docs), version)
        self._counter.record(docs)
        return self._response(text, hits, started, cached=False)

    async def _search_startup(  # noqa: PLR0917 (the search's own arguments)
        self,
        startup: bootstrap.StartupCopy,
        text: str,
        domain: str | None,
        tag_tuple: tuple[str, ...],
        source: str | None,
        limit: int,
        paths: tuple[str, ...],
        started: float,
        unaccepted: frozenset[str] = frozenset(),
    ) -> SearchResponse:
        """:meth:`_search_once` over the start-up copy (not cached: the table replaces it soon)."""
        snapshot, view = startup.snapshot, startup.view
        distrusted = view.known(unaccepted)
        keep = snapshot.mask(domain, source, tag_tuple, view.excluded(paths, distrusted))
        fts_text = fts_query_text(text) if self.config.search_mode == "hybrid" else ""
        depth = candidate_depth(limit)
        vector = (await asyncio.to_thread(self._embedder.embed, [text]))[0]
        text_rows = snapshot.matches(fts_text, keep, depth) if fts_text else None
        vector_rows = snapshot.nearest(vector, keep, depth)
        ranked = rank(vector_rows, text_rows, depth if paths else limit)
        ranked = apply_path_scope(ranked, view.matching(paths), view.overrides_without(distrusted), limit)
        self._counter.record(sorted({doc for doc, _ in ranked}))
        startup.answered.set()  # the table's build may start now (IndexWriter.prepare)
        return self._response(text, [hit for _, hit in ranked], started, cached=False)

    def _embed_if_loaded(self, text: str) -> list[float] | None:
        """The query's vector now if the model can give it without loading anything (it never waits
        on a lock or a load: safe on the event loop), else None."""
        now = getattr(self._embedder, "embed_if_loaded", None)  # the ONNX embedder has it
        vector: list[float] | None = now(text) if now is not None else None
        return vector

    @staticmethod
    def _where(filters: dict[str, Any]) -> Any:
        """The LanceDB filter expression of a query's filters (only the LanceDB fallback needs it)."""
        return build_filter(
            domain=filters["domain"],
            source=filters["source"],
            tags=list(filters["tags"]),
            exclude_docs=filters["exclude_docs"],
        )

    async def _source_view(self, version: int) -> SourceView:
        """Precedence and path scopes of the indexed files, rebuilt when the table version changes."""
        if self._view is None or self._view[0] != version:
            manifest = await self._store.manifest()
            docs = [DocScope(i.doc, i.source, i.file, i.paths) for i in manifest.values()]
            self._view = (version, SourceView.build(docs))
        return self._view[1]

    @staticmethod
    async def _text_rows(task: asyncio.Future[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        try:
            return await task
        except Exception as exc:  # the vector search worked, so the table is fine: the FTS index is not
            raise FtsUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _response(self, query: str, hits: list[SearchHit], started: float, *, cached: bool) -> SearchResponse:
        return SearchResponse(
            query=query,
            results=[h.model_copy() for h in hits],
            # the skipped files are counted, not listed: every answer would carry the list
            status=self.status().model_copy(update={"skipped": []}),
            took_ms=(time.perf_counter() - started) * 1000,
            cached=cached,
        )

    async def _store_unreadable(self) -> StoreCorrupt | None:
        """After a failed search: is the index on disk gone or damaged (rather than the query at fault)?"""
        try:
            await self._store.manifest()
        except StoreCorrupt as exc:
            return exc
        except RuntimeError as exc:  # closed meanwhile
            return StoreCorrupt(str(exc))
        return None

    async def list_files(self) -> list[StandardFile]:
        """Every indexed standard with its title, tags and how often searches returned it."""
        if not self._store.is_open:
            return []
        manifest = await self._store.manifest()
        counts = await self._counter.counts()
        view = SourceView.build(DocScope(i.doc, i.source, i.file, i.paths) for i in manifest.values())
        return [
            StandardFile(
                file=info.file,
                domain=info.domain,
                source=info.source,
                title=info.title,
                tags=info.tags,
                query_count=counts.get(info.doc, 0),
                paths=list(info.paths),
                overridden_by=view.overridden_by.get(info.doc),
            )
            for info in sorted(manifest.values(), key=lambda i: (i.source, i.file))
        ]

    async def read_file(self, file: str, source: str | None = None) -> str:
        """Text of a standard; refuses paths outside the standards folders (``..``, symlinks)."""
        if source is not None and source not in SOURCE_KINDS:
            raise ValueError(f"source must be one of {', '.join(repr(k) for k in SOURCE_KINDS)}")
        path = await asyncio.to_thread(safe_resolve, self.config.sources, file, source)
        data = await asyncio.to_thread(read_capped, path, self.config.max_file_bytes)
        return data
