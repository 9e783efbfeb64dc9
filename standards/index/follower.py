"""A second server on one project: it reads the index another process writes, and takes over writing
when that process goes away.

Two servers on one project used to both write the index; with one writer per folder the second
one starts as a reader (its searches see every commit of the writer, its approvals are handed to
the writer), tries the writer lock every :data:`PROMOTE_POLL_SECONDS`, and once it gets it starts
an :class:`IndexWriter` (which reconciles whatever changed meanwhile and watches the folders) and
serves everything from it. The one concern of this type is that hand-over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from standards.index.models import IndexStatus, SearchResponse, StandardFile
from standards.index.reader import IndexReader
from standards.index.stored import StoredLookup
from standards.index.writer import IndexWriter
from standards.index.writer_lock import WriterLock

log = logging.getLogger(__name__)

PROMOTE_POLL_SECONDS = 1.0


class FollowerIndex(IndexReader):
    """A reader until the writer lock is free, then a writer (for the rest of its life)."""

    def __init__(self, *args: Any, stored: StoredLookup | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stored = stored
        self._writer: IndexWriter | None = None
        self._promoter: asyncio.Task[None] | None = None
        self._watch = True

    @property
    def promoted(self) -> bool:
        return self._writer is not None

    async def start(self, *, watch: bool = True) -> None:
        await super().start(watch=watch)
        self._watch = watch
        self._promoter = asyncio.create_task(self._take_over(), name="standards-follow")

    async def _take_over(self) -> None:
        lock = WriterLock(self.config.index_dir)
        while not await asyncio.to_thread(lock.try_acquire):  # noqa: ASYNC110 (another process's lock)
            await asyncio.sleep(PROMOTE_POLL_SECONDS)
        writer = IndexWriter(self.config, self._embedder, lock=lock, stored=self._stored)
        for listener in self._listeners:
            writer.add_listener(listener)
        try:
            await writer.start(watch=self._watch)
        except BaseException:
            await writer.stop()
            raise
        self._writer = writer
        log.info("took over writing the standards index at %s", self.config.index_dir)

    async def stop(self) -> None:
        if self._promoter is not None:
            self._promoter.cancel()
            await asyncio.gather(self._promoter, return_exceptions=True)
        if self._writer is not None:
            await self._writer.stop()
        await super().stop()

    # Everything below goes to the writer once this process has become it.

    def add_listener(self, cb: Callable[[list[str]], None]) -> None:
        super().add_listener(cb)
        if self._writer is not None:
            self._writer.add_listener(cb)

    def status(self) -> IndexStatus:
        return self._writer.status() if self._writer is not None else super().status()

    async def wait_ready(self, timeout: float) -> IndexStatus:  # noqa: ASYNC109 (public API)
        if self._writer is not None:
            return await self._writer.wait_ready(timeout)
        return await super().wait_ready(timeout)

    async def search(self, query: str, **kwargs: Any) -> SearchResponse:
        if self._writer is not None:
            return await self._writer.search(query, **kwargs)
        return await super().search(query, **kwargs)

    async def list_files(self) -> list[StandardFile]:
        return await (self._writer.list_files() if self._writer is not None else super().list_files())

    async def reindex_paths(self, paths: list[Path]) -> None:
        if self._writer is not None:
            await self._writer.reindex_paths(paths)
        else:
            await super().reindex_paths(paths)

    async def index_stored(self, files: list[str]) -> list[str]:
        """The writer's (:meth:`IndexWriter.index_stored`); a reader leaves it to the writing process."""
        return await self._writer.index_stored(files) if self._writer is not None else []
