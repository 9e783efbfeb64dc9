"""The one process that writes an index folder: build, keep fresh, repair.

It holds the writer lock (:mod:`standards.index.writer_lock`) from ``start`` to ``stop``,
reconciles the table with the Markdown at start (in the background), re-indexes files the
watcher reports or other processes hand over (:mod:`standards.index.handoff`), and folds every
write into the full-text index before a build is reported done (after watcher batches the
un-indexed tail is at most :data:`~standards.index.upkeep.FTS_TAIL_MAX` rows for at most
:data:`~standards.index.upkeep.FOLD_DELAY_SECONDS`).
A change that cannot be written (disk full, read-only) is kept and retried with backoff while the
status says ``stale``. Status, folding and repair are in :mod:`standards.index.upkeep`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from standards.index import bootstrap, handoff
from standards.index.embedder import SETTING_ERRORS, Embedder
from standards.index.indexer import Indexer
from standards.index.models import BuildProgress, BuildReport, IndexConfig, IndexResult
from standards.index.retry import FailedChanges
from standards.index.sources import discover, resolve_changes, watch_targets
from standards.index.starter_vectors import StarterVectors
from standards.index.store import StoreCorrupt
from standards.index.stored import StoredLookup, stand_ins
from standards.index.upkeep import FTS_TAIL_MAX, OPTIMIZE_EVERY, IndexUpkeep
from standards.index.vector_cache import VectorCache, model_fingerprint
from standards.index.walk import WalkCuts
from standards.index.watcher import Debouncer, Watcher
from standards.index.writer_lock import WriterLock

log = logging.getLogger(__name__)

#: How long a change handed over before start() waits for the table to open (then it fails and is
#: retried with backoff, as any write that cannot land).
OPEN_WAIT_SECONDS = 300.0


class IndexStopped(RuntimeError):
    """A change arrived for an index that has stopped (the process is shutting down)."""


class IndexWriter(IndexUpkeep):
    """Builds the index and keeps it fresh; one per index folder (file lock), searchable too."""

    _writes = True

    def __init__(
        self,
        config: IndexConfig,
        embedder: Embedder | None = None,
        *,
        lock: WriterLock | None = None,
        stored: StoredLookup | None = None,
    ) -> None:
        """``lock``: the folder's writer lock, if the caller took it already (see :func:`writer_or_reader`).
        ``stored``: standards the system of record holds, served while this host lacks their files
        (:mod:`standards.index.stored`); every reconcile asks it for the recent ones."""
        super().__init__(config, embedder)
        self.stored = stored
        self._indexer = Indexer(self._store, self._embedder, max_file_bytes=self.config.max_file_bytes)
        self._lock_file = lock or WriterLock(self.config.index_dir)
        self._reconcile_task: asyncio.Task[None] | None = None
        self._watcher: Watcher | None = None
        self._failed = FailedChanges(self.reindex_paths, self._spawn)
        self._requests: asyncio.Task[None] | None = None
        self._stopped = False
        self._warm: asyncio.Task[None] | None = None  # the model load started by prepare()

    # ----------------------------------------------------------------- lifecycle

    async def start(self, *, watch: bool = True, reconcile: bool = True) -> None:
        """Take the writer lock (raises :class:`~standards.index.writer_lock.WriterBusy` if another
        process holds it), open or repair the table, then reconcile in the background."""
        try:
            await asyncio.to_thread(self._lock_file.acquire)
            await self._counter.start()
            if self._indexer.vector_cache is None:  # the shipped starter vectors, and the user's cache if on
                folder = self.config.embedding_cache_dir
                self._indexer.vector_cache = await asyncio.to_thread(self._open_vector_cache, folder)
            opened = await self._open()
        finally:
            self._opened.set()
        if not opened:
            self._startup = None
            return
        if watch:
            self._watcher = Watcher(Debouncer(self.reindex_paths, delay=self.config.debounce_seconds))
            self._watcher.start(await asyncio.to_thread(watch_targets, self.config.sources))
            await asyncio.to_thread(self._watcher.adopt_roots, self.config.sources)
        # not in _tasks: it runs until stop, and _wait_idle must not wait for it
        self._requests = asyncio.create_task(
            handoff.serve(self.config.index_dir, rebuild=self.rebuild, reindex=self.reindex_paths),
            name="standards-requests",
        )
        if reconcile:
            self._set_status("building", message="checking standards for changes")
            self._reconcile_task = self._spawn(self._reconcile_in_background(), "standards-reconcile")
            # Load the model meanwhile, so the first search does not wait for it (with cached vectors
            # the reconcile itself embeds nothing).
            if self._warm is None:
                self._spawn(self._warm_up(), "standards-warm-up")

    async def prepare(self) -> None:
        """Before LanceDB is imported: for a table not built yet whose every chunk has a shipped or
        cached vector, the in-memory copy searches answer from meanwhile (:mod:`standards.index.bootstrap`);
        the model loads alongside, as the first search needs it. From now on a search waits for the
        table to open (:meth:`_ensure_open`) rather than answer nothing."""
        self._opening = True
        if self.stored is not None:
            return
        self._preparing = preparing = asyncio.Event()  # before any await: searches wait for it
        try:
            startup = await self._startup_copy(self.config.embedding_cache_dir)
        finally:
            preparing.set()
        if startup is not None:
            log.info("searches answered from %d shipped or cached chunks while the index is built", startup.chunks)
            if self._warm is not None:  # LanceDB's import would compete with the model's load
                await asyncio.gather(self._warm, return_exceptions=True)

    async def startup_answered(self) -> None:
        """Until the start-up copy has answered a search, at most :data:`bootstrap.BUILD_WAIT_SECONDS`
        (at once without a copy): LanceDB's import for the table's build would compete with it."""
        if (startup := self._startup) is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(startup.answered.wait(), bootstrap.BUILD_WAIT_SECONDS)

    async def _startup_copy(self, cache_dir: Path | None) -> bootstrap.StartupCopy | None:
        try:
            if await asyncio.to_thread(bootstrap.table_exists, self.config):
                return None
            self._warm = self._spawn(self._warm_up(), "standards-warm-up")
            await asyncio.to_thread(self._lock_file.acquire)  # the copy is of the table this process writes
            cache = await asyncio.to_thread(self._open_vector_cache, cache_dir)
            self._indexer.vector_cache = cache
            args = (self.config, self._indexer, cache, self._vectors.term_cache, self._embedder.embed)
            startup = await asyncio.to_thread(bootstrap.build_startup_copy, *args)
        except Exception:  # the start goes on as without a copy
            log.warning("building the start-up copy of the standards failed", exc_info=True)
            return None
        self._startup = startup
        return startup

    def _open_vector_cache(self, folder: Path | None) -> VectorCache:
        model, dimension = model_fingerprint(self._embedder), self._embedder.dimension
        return VectorCache(folder, model, dimension, shipped=StarterVectors(model, dimension))

    async def _warm_up(self) -> None:
        load = getattr(self._embedder, "load", None)  # real models have one; test embedders need none
        if load is None:
            return
        try:
            await asyncio.to_thread(load)
        except SETTING_ERRORS as exc:  # the first search reports it too; its message has the fix
            log.warning("loading the embedding model failed: %s", exc)
        except Exception:  # the first search reports the problem
            log.warning("loading the embedding model failed", exc_info=True)

    async def _reconcile_in_background(self) -> None:
        try:
            with contextlib.suppress(Exception):  # already logged and reported in the status
                await self._reconcile(force=False)
                if self._status.state == "ready" and (self._startup is not None or self._watcher is not None):
                    # The table's own copy answers from now on, without a LanceDB query between (after
                    # the start-up copy), and a server's first searches skip the window in which LanceDB
                    # answers while the copy loads (~2 s at 12k chunks, 20-180 ms a search). Only for a
                    # writer that stays (it watches): a one-shot CLI search would wait for the load.
                    await self._vectors.load(self._store, await self._store.version())
        finally:
            self._startup = None

    async def stop(self) -> None:
        self._stopped = True
        self._opened.set()  # nothing waits for a table that will not open now
        if self._requests is not None:
            self._requests.cancel()
            await asyncio.gather(self._requests, return_exceptions=True)
            self._requests = None
        if self._watcher is not None:
            await self._watcher.stop()
            self._watcher = None
        if self._fold_timer is not None:  # fold the tail now rather than leave it un-indexed
            self._fold_timer.cancel()
            self._fold_timer = None
            with contextlib.suppress(Exception):
                await self._fold()
        await super().stop()
        if self._indexer.vector_cache is not None:
            await asyncio.to_thread(self._indexer.vector_cache.close)
        await asyncio.to_thread(self._lock_file.release)

    async def _open(self) -> bool:
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

    # ----------------------------------------------------------------- building

    async def _reconcile(self, *, force: bool, progress: Callable[[BuildProgress], None] | None = None) -> IndexResult:
        async with self._lock:
            started = time.perf_counter()
            try:
                try:
                    result = await self._reconcile_locked(force, progress)
                except StoreCorrupt as exc:
                    log.warning("standards index became unreadable (%s); rebuilding it", exc)
                    await asyncio.to_thread(self._store.wipe)
                    await self._store.open(await asyncio.to_thread(lambda: self._embedder.dimension))
                    result = await self._reconcile_locked(True, progress)
            except Exception as exc:  # also when the rebuild fails: the status says why
                log.error("building the standards index failed: %s", exc, exc_info=not isinstance(exc, SETTING_ERRORS))
                self._set_status("error", message=f"index build failed: {exc}")
                raise
            self._status = self._status.model_copy(update={"files_indexed": result.files_seen})
            await self._settle_status()
            log.info(
                "standards index reconciled in %.2fs: %d files, %d changed, %d chunks embedded, %d from the cache",
                time.perf_counter() - started,
                result.files_seen,
                len(result.changed),
                result.texts_embedded,
                result.cache_hits,
            )
            return result

    async def _reconcile_locked(self, force: bool, progress: Callable[[BuildProgress], None] | None) -> IndexResult:
        cuts = WalkCuts()
        files = await asyncio.to_thread(discover, self.config.sources, max_files=self.config.max_walk_files, cuts=cuts)
        for message in cuts.messages:
            if message not in self._walk_cut:  # once per folder, not at every reconcile
                log.warning("%s", message)
        self._walk_cut = cuts.messages
        manifest = await self._store.manifest()
        found = await stand_ins(self.stored, self.config.sources, None)
        standing_in = {sf.key for sf, _ in found}
        files = [f for f in files if f.key not in standing_in]  # the version a stored update replaced
        keys = {f.key for f in files} | standing_in
        removed = [doc for doc in manifest if doc not in keys]
        self._status = self._status.model_copy(update={"files_total": len(files), "files_indexed": 0})

        def report(p: BuildProgress) -> None:
            self._progress(p)
            if progress is not None:
                progress(p)

        if force and (problem := await self._store.probe_fts()) is not None:
            log.warning("full-text index unreadable (%s); rebuilding it", problem)
            await self._store.rebuild_fts()
        result = await self._indexer.index(files, manifest, force=force, removed=removed, progress=report)
        if found:  # stand-ins for files this host lacks (yet)
            result.merge(await self._indexer.index_texts(found, {} if force else manifest))
        self._skipped = dict(result.skipped)
        self._after_write(result)
        # A build is done only when the full-text index covers every row (also after a start with
        # no changes: an earlier process may have stopped before folding its writes).
        await self._fold_locked(compact=bool(result.changed))
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
        indexed, unindexed = await self._store.fts_coverage()
        return BuildReport(
            files=result.files_seen - len(result.skipped),
            chunks=result.chunks_written,
            seconds=seconds,
            chunks_per_second=result.chunks_written / seconds if seconds > 0 else 0.0,
            skipped=[f"{f.source}/{f.file}: {f.reason}" for f in self.skipped_files()],
            fts_indexed_rows=indexed,
            fts_unindexed_rows=unindexed,
        )

    # ----------------------------------------------------------------- incremental updates

    async def reindex_paths(self, paths: list[Path]) -> None:
        """Re-index these files or folders (created, changed, deleted or renamed). A write that fails
        is retried with backoff (status 'stale' meanwhile) and the error is raised to the caller."""
        try:
            try:
                await self._reindex_paths(paths)
            except StoreCorrupt as exc:
                # The index on disk was deleted or damaged under us: rebuild it, then try once more.
                await asyncio.shield(self._start_recovery(exc))
                await self._reindex_paths(paths)
        except IndexStopped:
            raise
        except Exception as exc:
            self._keep_for_retry(paths, exc)
            raise

    async def _reindex_paths(self, paths: list[Path]) -> None:
        await self._wait_open()
        if self._watcher is not None:  # a root created after start is watched and indexed whole
            paths = [*paths, *await asyncio.to_thread(self._watcher.adopt_roots, self.config.sources)]
        # Reading and embedding run without the lock (a big file never blocks other changes); the
        # indexer takes it per commit and lets a newer edit of the same file win.
        manifest = await self._store.manifest()
        files, removed, roots = await asyncio.to_thread(
            resolve_changes, self.config.sources, paths, set(manifest), max_files=self.config.max_walk_files
        )
        if self._watcher is not None:
            for root in roots:
                self._watcher.watch(root)  # a root created after start
        if files or removed:
            result = await self._indexer.index(files, manifest, removed=removed, lock=self._lock)
            for doc in [*result.indexed, *removed]:
                self._skipped.pop(doc, None)
            self._skipped.update(result.skipped)
            self._after_write(result)
            async with self._lock:
                _, unindexed = await self._store.fts_coverage()
                if unindexed >= FTS_TAIL_MAX or self._writes_since_optimize >= OPTIMIZE_EVERY:
                    await self._fold_locked(compact=True)
                elif unindexed:
                    self._schedule_fold()
        self._failed.landed(paths)
        if self._status.state != "building":
            await self._settle_status()
        if files or removed:
            self._reload_copy()

    async def index_stored(self, files: list[str]) -> list[str]:
        """Serve these project-relative standards from the system of record where this host has no
        file for them (yet); returns the files indexed so. A file that appears later replaces them."""
        if self.stored is None or not files:
            return []
        await self._wait_open()
        async with self._lock:
            found = await stand_ins(self.stored, self.config.sources, files)
            if not found:
                return []
            result = await self._indexer.index_texts(found, await self._store.manifest())
            self._skipped.update(result.skipped)
            self._after_write(result)
            await self._fold_locked(compact=False)
        log.info("serving %d approved standards from the database until their files arrive", len(result.indexed))
        if self._status.state != "building":
            await self._settle_status()
        self._reload_copy()
        return [sf.file for sf, _ in found if sf.key in result.indexed]

    async def _wait_open(self) -> None:
        """A change handed over while the server is still starting waits for start() to open the table."""
        if not self._opened.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._opened.wait(), OPEN_WAIT_SECONDS)
        if self._stopped:
            raise IndexStopped("the standards index stopped before this change could be indexed")

    def _keep_for_retry(self, paths: list[Path], exc: Exception) -> None:
        self._failed.keep(paths)
        reason = f"{type(exc).__name__}: {exc}"
        log.warning("could not index %d changed paths (%s); retrying with backoff", len(self._failed), reason)
        if self._status.state != "building":
            self._set_status("stale", message=f"{len(self._failed)} changed paths not indexed yet: {reason}")

    # ----------------------------------------------------------------- after a write

    def _after_write(self, result: IndexResult) -> None:
        if not result.changed:
            return
        if asyncio.current_task() is not self._reconcile_task:  # a change the start-up copy lacks
            self._startup = None
        self._cache.clear()
        self._writes_since_optimize += 1
        self._status = self._status.model_copy(update={"last_updated": time.time()})
        files = sorted(set(result.changed_files))
        for cb in list(self._listeners):
            try:
                cb(files)
            except Exception:  # a broken listener must not break indexing
                log.exception("standards index listener failed")
