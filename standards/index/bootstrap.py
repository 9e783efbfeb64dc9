"""Answering a new project's first searches before LanceDB is even imported.

A new project's index holds the shipped starter standards (and whatever the project adds), whose
vectors ship with the package (:mod:`standards.index.starter_vectors`, looked up through the shared
embedding cache, :mod:`standards.index.vector_cache`, which holds the vectors of anything else the
user indexed before). Importing LanceDB, creating the table and its full-text index cost seconds
of CPU; reading and chunking the files and taking their vectors from the cache cost a fraction of
that. So when the writer finds no table yet, it first builds the in-memory copy
(:class:`~standards.index.snapshot.Snapshot`) straight from the chunker's rows and the cached
vectors, exactly the copy it would read back from the built table (same rows in the same order,
same vectors, same BM25 terms: same results and scores), and searches answer from it while the
table is built in the background. Once the built table's own copy has loaded the start-up copy is
dropped. The build waits for the copy's first answer (at most :data:`BUILD_WAIT_SECONDS`):
importing LanceDB meanwhile would take the CPU that answer needs. The files' chunkings come from
the same cache (:mod:`standards.index.chunk_cache`). A few chunks whose vector is neither shipped nor
cached (a new project's own standards and rule files, e.g. an ``AGENTS.md``, on a machine that never
indexed them; an edited starter) are embedded for the copy, at most :data:`EMBED_AT_MOST`, each alone
on the query session the first search loads anyway, and put in the user's cache, where the table's
build takes them (so the copy and the table hold the same vectors). With more of them, or without a
user cache, nothing is built and the start is as before: embedding here would hold up the first
answer longer than the build does.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from standards.index.memory_vectors import MAX_ROWS
from standards.index.scope import DocScope, SourceView
from standards.index.sources import discover

if TYPE_CHECKING:
    from collections.abc import Callable

    from standards.index.bm25_terms import TermCache
    from standards.index.indexer import Indexer
    from standards.index.models import IndexConfig
    from standards.index.snapshot import Snapshot
    from standards.index.vector_cache import VectorCache

log = logging.getLogger(__name__)

#: The start-up copy's version: never a table version (LanceDB's start at 1).
VERSION = -1
#: A search arriving while the copy is being made waits at most this long for it.
PREPARE_WAIT_SECONDS = 5.0
#: With a start-up copy, the table's build starts once the copy answered a search, or after this long.
BUILD_WAIT_SECONDS = 3.0
#: Chunks with neither a shipped nor a cached vector embedded for a start-up copy, at most (each alone:
#: ~5-20 ms of CPU; beyond this the table's build, which embeds in batches, comes first).
EMBED_AT_MOST = 32
#: Status message while searches are answered from the start-up copy.
MESSAGE = "ready (from cached vectors; the index is being built)"


@dataclass(frozen=True)
class StartupCopy:
    """The in-memory copy of a table not built yet, and the precedence and scopes of its files."""

    snapshot: Snapshot
    view: SourceView
    chunks: int
    files: int
    #: Set when the copy has answered a search: the server imports LanceDB for the table's build
    #: (~1 s of CPU) after that, or after :data:`BUILD_WAIT_SECONDS` (IndexWriter.startup_answered).
    answered: asyncio.Event = field(default_factory=asyncio.Event, compare=False)


def table_exists(config: IndexConfig) -> bool:
    """Whether the index folder holds a chunks table (blocking; no LanceDB import)."""
    from standards.index.store import TABLE

    return (config.index_dir / "lancedb" / f"{TABLE}.lance").exists()


def build_startup_copy(
    config: IndexConfig,
    indexer: Indexer,
    cache: VectorCache,
    terms: Callable[[], TermCache] | None = None,
    embed: Callable[[list[str]], list[list[float]]] | None = None,
) -> StartupCopy | None:
    """The copy of what a build of ``config``'s sources would write, if every vector is shipped or
    cached, or at most :data:`EMBED_AT_MOST` are missing and ``embed`` computes them (put in the user's
    cache for the build), else None; ``terms()`` gives the term cache the table's own copies use next.
    Blocking: run it on a thread."""
    if not cache.may_hold_all():  # no user cache, and no shipped vectors of this model
        return None
    files = discover(config.sources, max_files=config.max_walk_files)
    rows = indexer.rows_of(files)
    if not rows or len(rows) > MAX_ROWS:  # the bound of the table's own copy
        return None
    hashes = list(dict.fromkeys(row["chunk_hash"] for row in rows))
    cached = cache.get(hashes)
    if missing := [h for h in hashes if h not in cached]:
        if embed is None or len(missing) > EMBED_AT_MOST or not cache.stores_vectors():
            log.info("start-up copy skipped: %d of %d chunks have no cached vector", len(missing), len(hashes))
            return None
        texts = {row["chunk_hash"]: row["search_text"] for row in rows}
        fresh = {h: embed([texts[h]])[0] for h in missing}  # alone: the query session, no batch padding
        cache.put(fresh)
        cached.update(fresh)
    from standards.index.snapshot import snapshot_from_rows  # numpy, bm25s: off the import path

    vectors = [cached[row["chunk_hash"]] for row in rows]
    snapshot = snapshot_from_rows(VERSION, rows, vectors, terms() if terms is not None else None)
    docs: dict[str, DocScope] = {}
    for row in rows:
        docs.setdefault(row["doc"], DocScope(row["doc"], row["source"], row["file"], tuple(row["paths"])))
    return StartupCopy(snapshot, SourceView.build(docs.values()), len(rows), len(docs))
