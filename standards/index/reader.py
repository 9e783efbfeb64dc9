"""A read-only view of an index another process writes (workers, doctor, a second server, the CLI).

It opens the LanceDB folder with strong read consistency, so every search sees the writer's
latest commit; the writer's progress comes from ``status.json``. If the files are replaced under
it (the writer rebuilt a damaged index) it reopens them once. Re-index requests are handed to the
writer (:mod:`standards.index.handoff`); a reader never writes the table.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from standards.index import handoff
from standards.index.models import IndexState, IndexStatus, SearchResponse
from standards.index.searcher import IndexSearcher
from standards.index.status_file import StatusFile
from standards.index.store import StoreCorrupt
from standards.index.writer_lock import writer_running

log = logging.getLogger(__name__)

#: How long a handed-over re-index may take before the caller stops waiting.
HANDOFF_TIMEOUT_SECONDS = 60.0


class IndexReader(IndexSearcher):
    """Searches an index written by another process; never writes it."""

    _writes = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._status_file = StatusFile(self.config.index_dir)
        self._seen_version: int | None = None

    async def start(self, *, watch: bool = True) -> None:
        """Open the table if it exists (``watch`` is ignored: the writer watches the files)."""
        await self._counter.start()
        await self._open()

    async def _open(self) -> bool:
        try:
            opened = await self._store.open(None)
        except StoreCorrupt as exc:
            self._store.close()
            self._status = IndexStatus(
                state="error", message=f"index unreadable, waiting for the indexer to rebuild: {exc}"
            )
            return False
        await self._refresh_status()
        return opened

    async def _refresh_status(self) -> None:
        status = await asyncio.to_thread(self._status_file.read)
        chunks = await self._store.count_rows() if self._store.is_open else 0
        published = status is not None
        if status is None or (status.state == "ready" and chunks == 0):
            state: IndexState = "ready" if chunks else "empty"
            message = "" if chunks else "the standards index has not been built yet"
            status = IndexStatus(state=state, chunks=chunks, message=message)
        self._status = status.model_copy(update={"chunks": chunks})
        # Settled: the writer published a final state, or the table holds rows.
        if status.state != "building" and (published or chunks):
            self._settled.set()
        else:
            self._settled.clear()

    async def wait_ready(self, timeout: float) -> IndexStatus:  # noqa: ASYNC109 (public API)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if not self._store.is_open:
                await self._open()
            else:
                await self._refresh_status()
            if self._settled.is_set() or loop.time() >= deadline:
                return self.status()
            await asyncio.sleep(0.05)

    async def _ensure_open(self) -> bool:
        if not self._store.is_open:
            await self._open()
        return self._store.is_open

    async def _before_query(self, version: int) -> None:
        if version != self._seen_version or self._status.state != "ready":
            self._seen_version = version
            await self._refresh_status()

    async def _search_failed(self, exc: Exception, text: str, started: float, args: dict[str, Any]) -> SearchResponse:
        # The writer may have replaced a corrupt index: reopen once and retry.
        log.warning("standards index read failed (%s); reopening it", exc)
        self._store.close()
        if not await self._open():
            return self._response(text, [], started, cached=False)
        return await self._search_once(text, started=started, **args)

    async def reindex_paths(self, paths: list[Path]) -> None:
        """Hand the paths to the process that writes the index and wait until it has indexed them."""
        index_dir = self.config.index_dir
        if not await asyncio.to_thread(writer_running, index_dir):
            log.warning("no process writes the index at %s; %d changed paths wait for it", index_dir, len(paths))
            return
        request = await asyncio.to_thread(handoff.submit, index_dir, "paths", paths)
        await handoff.wait_answer(
            index_dir, request, timeout=HANDOFF_TIMEOUT_SECONDS, writer_alive=lambda: writer_running(index_dir)
        )
