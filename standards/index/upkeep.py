"""What keeps a written index healthy, apart from building it: the status it reports and persists
(opening included),
folding new rows into the full-text index, and repair when the files become unreadable under a
running process. :class:`~standards.index.writer.IndexWriter` builds on it; nothing else does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from standards.index.embedder import Embedder
from standards.index.models import (
    MAX_SKIPPED_LISTED,
    BuildProgress,
    IndexConfig,
    IndexResult,
    IndexState,
    IndexStatus,
    SearchResponse,
    SkippedFile,
)
from standards.index.retry import FailedChanges
from standards.index.searcher import FtsUnavailable, IndexSearcher
from standards.index.status_file import StatusFile
from standards.index.store import StoreCorrupt

log = logging.getLogger(__name__)

#: Commits between two compactions when no fold is due anyway.
OPTIMIZE_EVERY = 20
#: Un-indexed full-text rows tolerated after a watcher batch before it folds them at once.
FTS_TAIL_MAX = 256
#: A smaller tail is folded this long after the last write.
FOLD_DELAY_SECONDS = 1.0
#: How long a search made while the server opens the table waits for it (then it answers nothing,
#: with the status saying the index is opening).
SEARCH_OPEN_WAIT_SECONDS = 30.0


class IndexUpkeep(IndexSearcher):
    """Status, full-text folding and repair of an index this process writes (base of the writer)."""

    _failed: FailedChanges
    """Changes that could not be written yet (set by the writer, which retries them)."""

    def __init__(self, config: IndexConfig, embedder: Embedder | None = None) -> None:
        super().__init__(config, embedder)
        self._lock = asyncio.Lock()
        self._recovery: asyncio.Task[None] | None = None
        self._fts_repair: asyncio.Task[None] | None = None
        self._fold_timer: asyncio.TimerHandle | None = None
        self._writes_since_optimize = 0
        self._status_file = StatusFile(self.config.index_dir)
        self._status_writer: asyncio.Task[None] | None = None
        self._skipped: dict[str, str] = {}  # doc key -> reason
        self._walk_cut: list[str] = []  # standards folders whose walk was cut, with the fix
        # Set once start() has opened the table (or failed to): a change handed over earlier (an
        # approval while the server is still starting) and a search wait for it rather than find no table.
        self._opened = asyncio.Event()
        self._opening = False  # prepare() ran: the server is opening the table (LanceDB's import first)

    async def _reconcile(self, *, force: bool, progress: Callable[[BuildProgress], None] | None = None) -> IndexResult:
        """Bring the table in line with the Markdown (the writer's)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- opening

    async def _ensure_open(self) -> bool:
        """A search made while the server opens an existing table (LanceDB's import, about a second)
        waits for it, at most :data:`SEARCH_OPEN_WAIT_SECONDS`, instead of answering nothing."""
        if self._opening and not self._opened.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._opened.wait(), SEARCH_OPEN_WAIT_SECONDS)
        return self._store.is_open

    def status(self) -> IndexStatus:
        status = super().status()
        if status.state == "empty" and self._opening and not self._opened.is_set():
            return status.model_copy(update={"state": "building", "message": "opening the index"})
        return status

    def start_failed(self, exc: BaseException) -> None:
        """The server could not start the index: searches stop waiting, and the status says why."""
        message = f"the standards index failed to start ({type(exc).__name__}: {exc}); see the server log"
        self._status = self._status.model_copy(update={"state": "error", "message": message})
        self._settled.set()
        self._opened.set()

    # ----------------------------------------------------------------- status

    def _set_status(self, state: IndexState, **changes: Any) -> None:
        self._status = self._status.model_copy(update={"state": state, **changes})
        if state != "building":
            self._settled.set()
        else:
            self._settled.clear()
        self._persist_status(force=state != "building")

    def _persist_status(self, *, force: bool) -> None:
        # One writer task at a time, always writing the newest status: concurrent thread writes
        # could finish out of order and leave readers a stale "building".
        queued = self._status_file.offer(self._status.model_copy(), force=force)
        if queued and (self._status_writer is None or self._status_writer.done()):
            self._status_writer = self._spawn(self._status_file.drain(), "status")

    async def _settle_status(self) -> None:
        """After a write: ready/empty (or stale while failed changes wait), with fresh counts."""
        chunks = await self._store.count_rows()
        indexed, unindexed = await self._store.fts_coverage()
        counts: dict[str, Any] = {
            "chunks": chunks,
            "fts_indexed_rows": indexed,
            "fts_unindexed_rows": unindexed,
            "skipped": self.skipped_files()[:MAX_SKIPPED_LISTED],
            "skipped_total": len(self._skipped),
            "walk_cut": list(self._walk_cut),
        }
        if self._failed:
            self._status = self._status.model_copy(update=counts)
            return
        state: IndexState = "ready" if chunks else "empty"
        self._set_status(state, message="" if chunks else "no standards found", **counts)

    def skipped_files(self) -> list[SkippedFile]:
        """Files found under the roots but not indexed, with the reason, in path order."""
        listed = []
        for doc, reason in sorted(self._skipped.items()):
            source, _, file = doc.partition(":")
            listed.append(SkippedFile(file=file, source=source, reason=reason))
        return listed

    async def wait_ready(self, timeout: float) -> IndexStatus:  # noqa: ASYNC109 (public API)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), timeout)
        return self.status()

    def _progress(self, progress: BuildProgress) -> None:
        self._status = self._status.model_copy(
            update={
                "files_indexed": progress.files_done,
                "files_total": progress.files_total,
                "message": f"indexing standards: {progress.files_done}/{progress.files_total} files",
            }
        )
        self._persist_status(force=False)

    # ----------------------------------------------------------------- folding, repair

    def _schedule_fold(self) -> None:
        if self._fold_timer is not None:
            self._fold_timer.cancel()
        loop = asyncio.get_running_loop()
        self._fold_timer = loop.call_later(FOLD_DELAY_SECONDS, self._fold_later)

    def _fold_later(self) -> None:
        self._fold_timer = None
        self._spawn(self._fold(), "standards-fold")

    async def _fold(self) -> None:
        async with self._lock:
            try:
                await self._fold_locked(compact=False)
            except Exception:  # retried after the next write
                log.warning("folding new rows into the full-text index failed", exc_info=True)
            else:
                await self._settle_status()
        self._reload_copy()

    def _reload_copy(self) -> None:
        """After a write of ours, if this process searches from an in-memory copy: make what the next
        search would make first (LanceDB answering it meanwhile) now, the new version's precedence and
        path scopes (~50 ms at 12k chunks) and its copy."""
        if self._vectors.in_use and self._status.state != "building" and self._store.is_open:
            self._spawn(self._refresh_after_write(), "memory-index-reload")

    async def _refresh_after_write(self) -> None:
        with contextlib.suppress(Exception):  # the next search reads them itself, and reports a failure
            await self._source_view(await self._store.version())
        await self._vectors.reload(self._store)

    async def _fold_locked(self, *, compact: bool) -> None:
        """Fold un-indexed rows into the full-text index (and compact, when asked or due)."""
        _, unindexed = await self._store.fts_coverage()
        if unindexed or compact or self._writes_since_optimize >= OPTIMIZE_EVERY:
            self._writes_since_optimize = 0
            await self._store.optimize()

    def _start_recovery(self, exc: Exception) -> asyncio.Task[None]:
        """The index files became unreadable while running (deleted, garbled): rebuild them from the
        Markdown in the background; searches answer 'building' meanwhile. One rebuild at a time."""
        if self._recovery is None or self._recovery.done():
            log.warning("standards index at %s became unreadable (%s); rebuilding it", self._store.db_dir, exc)
            self._cache.clear()
            self._startup = None
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

    async def _search_failed(self, exc: Exception, text: str, started: float, args: dict[str, Any]) -> SearchResponse:
        # The files may have been deleted or garbled under the running server: rebuild them and
        # answer "building" meanwhile; anything else is a bug and is raised.
        rebuilding = (self._recovery is not None and not self._recovery.done()) or not self._store.is_open
        if not rebuilding:
            corrupt = await self._store_unreadable()
            if corrupt is None:
                # Sound now: a recovery may have replaced the files while this search read them.
                # Once more, on the index as it is; a second failure is a bug and is raised.
                return await self._search_once(text, started=started, **args)
            self._start_recovery(corrupt)
        return self._response(text, [], started, cached=False)

    async def _fts_failed(self, exc: FtsUnavailable) -> None:
        await super()._fts_failed(exc)
        if self._fts_repair is None or self._fts_repair.done():
            self._fts_repair = self._spawn(self._repair_fts(), "standards-fts-repair")

    async def _repair_fts(self) -> None:
        async with self._lock:
            try:
                await self._store.rebuild_fts()
            except Exception:
                log.exception("rebuilding the full-text index failed")
                return
            self._cache.clear()
            log.info("full-text index rebuilt")
            await self._settle_status()
