"""Choosing a process's view of an index folder: the writer if the folder's writer lock is free."""

from __future__ import annotations

import logging

from standards.index.embedder import Embedder
from standards.index.follower import FollowerIndex
from standards.index.models import IndexConfig
from standards.index.stored import StoredLookup
from standards.index.writer import IndexWriter
from standards.index.writer_lock import WriterLock, describe_holder

log = logging.getLogger(__name__)


def writer_or_reader(
    config: IndexConfig, embedder: Embedder | None = None, *, stored: StoredLookup | None = None
) -> IndexWriter | FollowerIndex:
    """The writer if no other process writes this index folder (its lock is taken now, blocking
    but brief), else a reader of the other process's index that takes over writing when that
    process goes away (e.g. a second server on one project)."""
    lock = WriterLock(config.index_dir)
    if lock.try_acquire():
        return IndexWriter(config, embedder, lock=lock, stored=stored)
    log.info(
        "the standards index at %s is written by %s; this process searches it read-only",
        config.index_dir,
        describe_holder(config.index_dir),
    )
    return FollowerIndex(config, embedder, stored=stored)
