"""The standards index: build, keep fresh, search.

One process is the writer (the indexer): it reconciles the index with the Markdown at
start (in the background), watches the folders and re-indexes changed files. Any number
of readers (``writer=False``, e.g. workers) open the same LanceDB folder with strong read
consistency and see the writer's commits; they never write to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from standards.index.counts import QueryCounter
from standards.index.embedder import Embedder, make_embedder
from standards.index.indexer import Indexer, IndexResult
from standards.index.models import (
    SOURCE_KINDS,
    BuildProgress,
    BuildReport,
    IndexConfig,
    IndexState,
    IndexStatus,
    SearchHit,
    SearchResponse,
    StandardFile,
)
from standards.index.ranking import candidate_depth
from standards.index.scope import DocScope, SourceView, validate_paths
from standards.index.search import (
    ResultCache,
    apply_path_scope,
    fts_query_text,
    rank,
    validate_filters,
    validate_query,
)
from standards.index.sources import discover, read_capped, resolve_changes, safe_resolve, watch_targets
from standards.index.status_file import StatusFile
from standards.index.store import ChunkStore, StoreCorrupt, build_filter
from standards.index.watcher import Debouncer, Watcher

log = logging.getLogger(__name__)

#: Commits between two ``optimize()`` runs (compaction + folding new rows into the FTS index).
OPTIMIZE_EVERY = 20


class StandardsIndex:
    """Hybrid (vector + full-text) search over the standards, kept fresh by a watcher."""

    def __init__(self, config: IndexConfig, embedder: Embedder | None = None, *, writer: bool = True) -> None:
        self.config = config
        self.writer = writer
        self._embedder: Embedder = embedder or make_embedder(config.model_path, backend=config.embedding_backend)
        self._store = ChunkStore(config.index_dir / "lancedb", writer=writer)
        self._indexer = Indexer(self._store, self._embedder, max_file_bytes=config.max_file_bytes)
        self._counter = QueryCounter(config.index_dir / "query_counts.sqlite3")
        self._cache = ResultCache()
        self._lock = asyncio.Lock()
        self._status = IndexStatus(state="empty", message="not started")
        self._settled = asyncio.Event()
        self._listeners: list[Callable[[list[str]], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reconcile_task: asyncio.Task[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._watcher: Watcher | None = None
        self._writes = 0
        self._status_file = StatusFile(config.index_dir)
        self._status_writer: asyncio.Task[None] | None = None
        self._seen_version: int | None = None
        self._view: tuple[int, SourceView] | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self, *, watch: bool = True) -> None:
        """Open (a writer creates or repairs) the index; a writer then reconciles in the background."""
        await self._counter.start()
        if not self.writer:
            await self._open_reader()
            return
        if not await self._open_writer():
            return
        if watch:
            self._watcher = Watcher(Debouncer(self.reindex_paths, delay=self.config.debounce_seconds))
            self._watcher.start(await asyncio.to_thread(watch_targets, self.config.sources))
        self._set_status("building", message="checking standards for changes")
        self._reconcile_task = self._spawn(self._reconcile_in_background(), "standards-reconcile")

    async def _reconcile_in_background(self) -> None:
        with contextlib.suppress(Exception):  # already logged and reported in the status
            await self._reconcile(force=False)

    async def stop(self) -> None:
        if self._watcher is not None:
            await self._watcher.stop()
            self._watcher = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
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

    async def _open_writer(self) -> bool:
        """Open or create the table; an unreadable index is deleted and rebuilt from the Markdown."""
        dimension = await asyncio.to_thread(lambda: self._embedder.dimension)
        try:
            await self._store.open(dimension)
        except StoreCorrupt as exc:
            log.warning("standards index at %s is unreadable (%s); rebuilding it", self._store.db_dir, exc)
            await asyncio.to_thread(self._store.wipe)
            try:
                await self._store.open(dimension)
            except StoreCorrupt as again:
                log.error("cannot create the standards index at %s: %s", self._store.db_dir, again)
                self._set_status("error", message=f"cannot create the index: {again}")
                return False
        self._status.chunks = await self._store.count_rows()
        return True

    async def _open_reader(self) -> bool:
        try:
            opened = await self._store.open(None)
        except StoreCorrupt as exc:
            self._store.close()
            self._set_status("error", message=f"index unreadable, waiting for the indexer to rebuild: {exc}")
            return False
        await self._refresh_reader_status()
        return opened

    # ----------------------------------------------------------------- status

    def status(self) -> IndexStatus:
        return self._status.model_copy()

    def _set_status(self, state: IndexState, **changes: Any) -> None:
        self._status = self._status.model_copy(update={"state": state, **changes})
        if state != "building":
            self._settled.set()
        else:
            self._settled.clear()
        if self.writer:
            self._persist_status(force=state != "building")

    def _persist_status(self, *, force: bool) -> None:
        # One writer task at a time, always writing the newest status: concurrent thread writes
        # could finish out of order and leave readers a stale "building".
        queued = self._status_file.offer(self._status.model_copy(), force=force)
        if queued and (self._status_writer is None or self._status_writer.done()):
            self._status_writer = self._spawn(self._write_status(), "status")

    async def _write_status(self) -> None:
        while (status := self._status_file.take()) is not None:
            await asyncio.to_thread(self._status_file.write, status)

    async def _refresh_reader_status(self) -> None:
        status = await asyncio.to_thread(self._status_file.read)
        chunks = await self._store.count_rows() if self._store.is_open else 0
        if status is None or (status.state == "ready" and chunks == 0):
            state: IndexState = "ready" if chunks else "empty"
            message = "" if chunks else "the standards index has not been built yet"
            status = IndexStatus(state=state, chunks=chunks, message=message)
        self._status = status.model_copy(update={"chunks": chunks})
        if status.state != "building":
            self._settled.set()

    async def wait_ready(self, timeout: float) -> IndexStatus:  # noqa: ASYNC109 (public API)
        """Wait until the index is no longer building (ready, empty or error), up to ``timeout`` s."""
        deadline = asyncio.get_running_loop().time() + timeout
        if self.writer:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settled.wait(), timeout)
            return self.status()
        while True:
            if not self._store.is_open:
                await self._open_reader()
            else:
                await self._refresh_reader_status()
            if self._status.state == "ready" or asyncio.get_running_loop().time() >= deadline:
                return self.status()
            await asyncio.sleep(0.05)

    def add_listener(self, cb: Callable[[list[str]], None]) -> None:
        """``cb(files)`` runs after every index change with the changed root-relative paths."""
        self._listeners.append(cb)

    # ----------------------------------------------------------------- writing

    def _progress(self, progress: BuildProgress) -> None:
        self._status = self._status.model_copy(
            update={
                "files_indexed": progress.files_done,
                "files_total": progress.files_total,
                "message": f"indexing standards: {progress.files_done}/{progress.files_total} files",
            }
        )
        self._persist_status(force=False)

    async def _reconcile(self, *, force: bool, progress: Callable[[BuildProgress], None] | None = None) -> IndexResult:
        async with self._lock:
            started = time.perf_counter()
            try:
                result = await self._reconcile_locked(force, progress)
            except StoreCorrupt as exc:
                log.warning("standards index became unreadable (%s); rebuilding it", exc)
                await asyncio.to_thread(self._store.wipe)
                await self._store.open(await asyncio.to_thread(lambda: self._embedder.dimension))
                result = await self._reconcile_locked(True, progress)
            except Exception as exc:
                log.exception("building the standards index failed")
                self._set_status("error", message=f"index build failed: {exc}")
                raise
            chunks = await self._store.count_rows()
            state: IndexState = "ready" if chunks else "empty"
            message = "" if chunks else "no standards found"
            self._set_status(state, chunks=chunks, files_indexed=result.files_seen, message=message)
            log.info(
                "standards index reconciled in %.2fs: %d files, %d changed, %d chunks embedded",
                time.perf_counter() - started,
                result.files_seen,
                len(result.changed),
                result.texts_embedded,
            )
            return result

    async def _reconcile_locked(self, force: bool, progress: Callable[[BuildProgress], None] | None) -> IndexResult:
        files = await asyncio.to_thread(discover, self.config.sources)
        manifest = await self._store.manifest()
        keys = {f.key for f in files}
        removed = [doc for doc in manifest if doc not in keys]
        self._status = self._status.model_copy(update={"files_total": len(files), "files_indexed": 0})

        def report(p: BuildProgress) -> None:
            self._progress(p)
            if progress is not None:
                progress(p)

        result = await self._indexer.index(files, manifest, force=force, removed=removed, progress=report)
        await self._after_write(result, optimize=bool(result.changed))
        return result

    async def rebuild(self, progress: Callable[[BuildProgress], None] | None = None) -> BuildReport:
        """Re-read and re-embed every standard (supersedes a reconcile still running)."""
        if self._reconcile_task is not None and not self._reconcile_task.done():
            self._reconcile_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconcile_task
        self._set_status("building", message="rebuilding the standards index")
        started = time.perf_counter()
        result = await self._reconcile(force=True, progress=progress)
        seconds = time.perf_counter() - started
        return BuildReport(
            files=result.files_seen - len(result.skipped),
            chunks=result.chunks_written,
            seconds=seconds,
            chunks_per_second=result.chunks_written / seconds if seconds > 0 else 0.0,
            skipped=result.skipped,
        )

    async def reindex_paths(self, paths: list[Path]) -> None:
        """Re-index these files or folders (created, changed, deleted or renamed)."""
        if not self.writer:
            raise RuntimeError("a read-only standards index cannot re-index")
        try:
            await self._reindex_paths(paths)
        except StoreCorrupt as exc:
            # The index on disk was deleted or damaged under us: rebuild it, then try once more.
            await asyncio.shield(self._start_recovery(exc))
            await self._reindex_paths(paths)

    async def _reindex_paths(self, paths: list[Path]) -> None:
        async with self._lock:
            manifest = await self._store.manifest()
            files, removed, roots = await asyncio.to_thread(resolve_changes, self.config.sources, paths, set(manifest))
            if self._watcher is not None:
                for root in roots:
                    self._watcher.watch(root)  # a root created after start
            if not files and not removed:
                return
            result = await self._indexer.index(files, manifest, removed=removed)
            await self._after_write(result, optimize=False)
            if self._status.state != "building":
                chunks = await self._store.count_rows()
                self._set_status("ready" if chunks else "empty", chunks=chunks, message="")

    def _start_recovery(self, exc: Exception) -> asyncio.Task[None]:
        """The index files became unreadable while running (deleted, garbled): rebuild them from the
        Markdown in the background; searches answer 'building' meanwhile. One rebuild at a time."""
        if self._recovery is None or self._recovery.done():
            log.warning("standards index at %s became unreadable (%s); rebuilding it", self._store.db_dir, exc)
            self._cache.clear()
            self._set_status("building", message="the index files became unreadable; rebuilding from the Markdown")
            self._recovery = self._spawn(self._recover(), "standards-recover")
        return self._recovery

    async def _recover(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._store.wipe)
            try:
                await self._store.open(await asyncio.to_thread(lambda: self._embedder.dimension))
            except StoreCorrupt as exc:
                log.error("cannot re-create the standards index at %s: %s", self._store.db_dir, exc)
                self._set_status("error", message=f"cannot re-create the index: {exc}")
                return
        with contextlib.suppress(Exception):  # already logged and reported in the status
            await self._reconcile(force=True)

    async def _store_unreadable(self) -> StoreCorrupt | None:
        """After a failed search: is the index on disk gone or damaged (rather than the query at fault)?"""
        try:
            await self._store.manifest()
        except StoreCorrupt as exc:
            return exc
        except RuntimeError as exc:  # closed meanwhile
            return StoreCorrupt(str(exc))
        return None

    async def _after_write(self, result: IndexResult, *, optimize: bool) -> None:
        if not result.changed:
            return
        self._cache.clear()
        self._writes += 1
        self._status = self._status.model_copy(update={"last_updated": time.time()})
        files = sorted(set(result.changed_files))
        for cb in list(self._listeners):
            try:
                cb(files)
            except Exception:  # a broken listener must not break indexing
                log.exception("standards index listener failed")
        if optimize or self._writes >= OPTIMIZE_EVERY:
            self._writes = 0
            self._spawn(self._optimize(), "standards-optimize")

    async def _optimize(self) -> None:
        async with self._lock:
            try:
                await self._store.optimize()
            except Exception:  # optimisation is an optional maintenance step
                log.warning("optimizing the standards index failed", exc_info=True)

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
    ) -> SearchResponse:
        """Top chunks for ``query``; identical queries are answered from a cache until the index changes.

        ``paths`` (project-relative files, e.g. those under review): standards scoped to other paths
        are left out, those scoped to these paths ranked first; unscoped ones are unaffected.
        """
        started = time.perf_counter()
        text = validate_query(query)
        domain, tag_tuple, source = validate_filters(domain, tags, source, limit)
        scope_paths = validate_paths(paths)
        if not self._store.is_open and not self.writer:
            await self._open_reader()
        if not self._store.is_open:
            return self._response(text, [], started, cached=False)
        if self.writer:
            try:
                return await self._search_once(
                    text,
                    domain=domain,
                    tag_tuple=tag_tuple,
                    source=source,
                    limit=limit,
                    started=started,
                    paths=scope_paths,
                )
            except Exception:
                # The files may have been deleted or garbled under the running server: rebuild them
                # and answer "building" meanwhile; anything else is a bug and is raised.
                rebuilding = (self._recovery is not None and not self._recovery.done()) or not self._store.is_open
                if not rebuilding:
                    corrupt = await self._store_unreadable()
                    if corrupt is None:
                        raise
                    self._start_recovery(corrupt)
                return self._response(text, [], started, cached=False)
        try:
            return await self._search_once(
                text,
                domain=domain,
                tag_tuple=tag_tuple,
                source=source,
                limit=limit,
                started=started,
                paths=scope_paths,
            )
        except Exception as exc:  # the writer may have replaced a corrupt index: reopen once
            log.warning("standards index read failed (%s); reopening it", exc)
            self._store.close()
            if not await self._open_reader():
                return self._response(text, [], started, cached=False)
            return await self._search_once(
                text,
                domain=domain,
                tag_tuple=tag_tuple,
                source=source,
                limit=limit,
                started=started,
                paths=scope_paths,
            )

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
    ) -> SearchResponse:
        version = await self._store.version()
        if not self.writer and (version != self._seen_version or self._status.state != "ready"):
            self._seen_version = version
            await self._refresh_reader_status()
        self._cache.check_version(version)
        mode = self.config.search_mode
        key = (text, domain, tag_tuple, source, limit, mode, paths)
        entry = self._cache.get(key)
        if entry is not None:
            self._counter.record(entry[1])
            return self._response(text, entry[0], started, cached=True)
        view = await self._source_view(version)
        where = build_filter(domain=domain, source=source, tags=list(tag_tuple), exclude_docs=view.excluded(paths))
        fts_text = fts_query_text(text) if mode == "hybrid" else ""
        depth = candidate_depth(limit)
        pool = depth if paths else limit  # scoped hits deeper in the ranking can still move up
        # full-text search runs while the query is being embedded
        text_task = asyncio.ensure_future(self._store.text_search(fts_text, where, depth)) if fts_text else None
        try:
            vector = (await asyncio.to_thread(self._embedder.embed, [text]))[0]
            vector_rows = await self._store.vector_search(vector, where, depth)  # deep: document aggregation
            text_rows = await text_task if text_task else None
        finally:
            if text_task is not None and not text_task.done():
                text_task.cancel()
        ranked = rank(vector_rows, text_rows, pool)
        ranked = apply_path_scope(ranked, view.matching(paths), view.overrides, limit)
        hits = [hit for _, hit in ranked]
        docs = sorted({doc for doc, _ in ranked})
        self._cache.put(key, (hits, docs), version)
        self._counter.record(docs)
        return self._response(text, hits, started, cached=False)

    async def _source_view(self, version: int) -> SourceView:
        """Precedence and path scopes of the indexed files, rebuilt when the table version changes."""
        if self._view is None or self._view[0] != version:
            manifest = await self._store.manifest()
            docs = [DocScope(i.doc, i.source, i.file, i.paths) for i in manifest.values()]
            self._view = (version, SourceView.build(docs))
        return self._view[1]

    def _response(self, query: str, hits: list[SearchHit], started: float, *, cached: bool) -> SearchResponse:
        return SearchResponse(
            query=query,
            results=[h.model_copy() for h in hits],
            status=self.status(),
            took_ms=(time.perf_counter() - started) * 1000,
            cached=cached,
        )

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
