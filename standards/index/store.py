"""The LanceDB table holding standards chunks (async LanceDB API, never blocks the loop).

One row per chunk: vector, text, metadata, the file's content hash and the chunk's own
hash (so an edited file only re-embeds the chunks that changed). A native full-text index
covers ``search_text`` (heading path + text); rows added since the last ``optimize()`` are
still searched (flat), so new content is findable immediately, but slowly: the writer folds them
into the index (``optimize``) and reports coverage (``fts_coverage``). A damaged full-text index is
found by ``probe_fts`` and rebuilt by ``rebuild_fts``. Every filter is built with
``lancedb.expr`` (values become escaped literals, never spliced into SQL).
``lancedb`` and ``pyarrow`` are imported on first use (importing them takes over a second).
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from lancedb.expr import Expr

log = logging.getLogger(__name__)

TABLE = "chunks"
#: Columns returned by searches (the vector and the FTS column stay on disk).
RESULT_COLUMNS = ["id", "doc", "source", "file", "domain", "paths", "heading_path", "tags", "text"]
#: Below this many chunks a flat (exact) vector scan is fast enough; above it an IVF index is built.
ANN_MIN_ROWS = 5000
#: IVF partitions probed per query (of about sqrt(rows)/4): near-exact recall at a fraction of the scan.
ANN_NPROBES = 8
_MANIFEST_COLUMNS = ["doc", "source", "file", "domain", "paths", "title", "tags", "content_hash", "chunk_index"]


class StoreCorrupt(Exception):
    """The index on disk cannot be read; it should be deleted and rebuilt."""


def schema(dimension: int) -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("doc", pa.string()),
            pa.field("source", pa.string()),
            pa.field("file", pa.string()),
            pa.field("domain", pa.string()),
            pa.field("paths", pa.list_(pa.string())),
            pa.field("title", pa.string()),
            pa.field("heading_path", pa.list_(pa.string())),
            pa.field("tags", pa.list_(pa.string())),
            pa.field("tags_key", pa.string()),
            pa.field("text", pa.string()),
            pa.field("search_text", pa.string()),
            pa.field("chunk_hash", pa.string()),
            pa.field("content_hash", pa.string()),
            pa.field("chunk_index", pa.int32()),
            pa.field("vector", pa.list_(pa.float32(), dimension)),
        ]
    )


def tags_key(tags: list[str]) -> str:
    """Tags stored as '|a|b|' so a tag filter is a literal substring test."""
    return "|" + "|".join(tags) + "|" if tags else ""


@dataclass(frozen=True)
class DocInfo:
    """What the index knows about one file."""

    doc: str
    source: str
    file: str
    domain: str
    title: str
    tags: list[str]
    content_hash: str
    paths: tuple[str, ...] = ()


class ChunkStore:
    """Opens (writer: creates, validates, repairs) the chunks table and runs queries on it."""

    def __init__(self, db_dir: Path, *, writer: bool) -> None:
        self.db_dir = db_dir
        self.writer = writer
        self._conn: Any = None
        self._table: Any = None
        self.dimension: int | None = None
        #: A writer's table version as of its last commit (None: ask LanceDB), see :meth:`version`.
        self._version: int | None = None
        #: Commits started or ended by this object: a version read across one is not kept.
        self._commits = 0

    @property
    def is_open(self) -> bool:
        return self._table is not None

    async def open(self, dimension: int | None) -> bool:
        """Open the table; a writer creates it. Returns False if a reader finds no table.

        Raises :class:`StoreCorrupt` if the files on disk cannot be read, or hold vectors
        of another dimension than ``dimension``.
        """
        import lancedb
        from lancedb.index import FTS

        self._forget_version()
        try:
            if self.writer:
                self.db_dir.mkdir(parents=True, exist_ok=True)
            elif not self.db_dir.is_dir():
                return False
            self._conn = await lancedb.connect_async(str(self.db_dir), read_consistency_interval=timedelta(0))
            names = (await self._conn.list_tables()).tables
            if TABLE not in names:
                if not self.writer:
                    return False
                if dimension is None:
                    raise ValueError("a writer needs the embedding dimension")
                table = await self._conn.create_table(TABLE, schema=schema(dimension))
                await table.create_index("search_text", config=FTS())
                self._table, self.dimension = table, dimension
                return True
            table = await self._conn.open_table(TABLE)
            existing = await table.schema()
            found = existing.field("vector").type.list_size
            if dimension is not None and found != dimension:
                raise StoreCorrupt(f"index holds {found}-dimensional vectors, the model makes {dimension}")
            missing = [f.name for f in schema(found) if f.name not in existing.names]
            if missing:
                raise StoreCorrupt(f"index was written by an older version (no {', '.join(missing)} column)")
            await table.count_rows()
            await table.query().limit(1).to_list()
            self._table, self.dimension = table, found
        except StoreCorrupt:
            raise
        except Exception as exc:  # any failure to read the files means the index is unusable
            raise StoreCorrupt(f"{type(exc).__name__}: {exc}") from exc
        if self.writer:
            problem = await self.probe_fts()
            if problem is not None:
                log.warning("full-text index of %s is unreadable (%s); rebuilding it", self.db_dir, problem)
                try:
                    await self.rebuild_fts()
                except Exception as exc:  # the whole table is rebuilt instead
                    raise StoreCorrupt(f"cannot rebuild the full-text index: {type(exc).__name__}: {exc}") from exc
        return True

    async def _fts_name(self) -> str | None:
        for ix in await self._t().list_indices():
            if ix.columns == ["search_text"]:
                return str(ix.name)
        return None

    async def probe_fts(self) -> str | None:
        """None if the full-text index exists and answers a query, else what is wrong with it."""
        try:
            if await self._fts_name() is None:
                return "no full-text index"
            query = self._t().query().nearest_to_text("probe", columns="search_text")
            await query.select(["id", "_score"]).limit(1).to_list()
        except Exception as exc:  # damaged or missing index files
            return f"{type(exc).__name__}: {exc}"
        return None

    async def rebuild_fts(self) -> None:
        """Drop the full-text index (whatever state its files are in) and build it over every row."""
        from lancedb.index import FTS

        table = self._t()
        with self._committing():
            name = await self._fts_name()
            if name is not None:
                await table.drop_index(name)
            await table.create_index("search_text", config=FTS())

    async def fts_coverage(self) -> tuple[int, int]:
        """(rows in the full-text index, rows not yet folded into it); unknown counts as un-indexed."""
        name = await self._fts_name()
        stats = await self._t().index_stats(name) if name is not None else None
        if stats is None:
            return 0, await self.count_rows()
        return int(stats.num_indexed_rows), int(stats.num_unindexed_rows)

    def wipe(self) -> None:
        """Delete the index folder (blocking; writer only)."""
        self.close()
        if self.db_dir.is_dir() and not self.db_dir.is_symlink():
            shutil.rmtree(self.db_dir, ignore_errors=True)
        else:
            self.db_dir.unlink(missing_ok=True)

    def close(self) -> None:
        if self._table is not None:
            self._table.close()
        self._table = None
        self._conn = None
        self._forget_version()

    def _t(self) -> Any:
        if self._table is None:
            raise RuntimeError("index table is not open")
        return self._table

    async def version(self) -> int:
        """The table's latest version (every search checks it). A reader asks LanceDB each time (the
        writer commits meanwhile); the writer asks once after each commit of its own and keeps the
        answer: the writer lock means no other process commits to this table, so the version cannot
        change until this process commits again (asking costs a round trip to LanceDB's threads and a
        look at the table's files, ~0.4 ms of CPU per search)."""
        if self._version is not None:
            return self._version
        commits = self._commits
        version = int(await self._t().version())
        if self.writer and commits == self._commits and self._table is not None:
            self._version = version
        return version

    def _forget_version(self) -> None:
        self._version = None
        self._commits += 1

    @contextmanager
    def _committing(self) -> Iterator[None]:
        """Around a commit to the table: the version is asked again after it (also if it failed halfway)."""
        self._forget_version()
        try:
            yield
        finally:
            self._forget_version()

    async def scan(self, columns: list[str]) -> pa.Table:
        """These columns of every row (the searcher's in-memory vector copy reads them)."""
        table: pa.Table = await self._t().query().select(columns).to_arrow()
        return table

    async def count_rows(self) -> int:
        return int(await self._t().count_rows())

    async def manifest(self) -> dict[str, DocInfo]:
        """One entry per indexed file (from its first chunk)."""
        try:
            data = await self._t().query().select(_MANIFEST_COLUMNS).to_arrow()
        except Exception as exc:
            raise StoreCorrupt(f"{type(exc).__name__}: {exc}") from exc
        docs: dict[str, DocInfo] = {}
        for row in data.to_pylist():
            doc = row["doc"]
            if doc not in docs or row["chunk_index"] == 0:
                docs[doc] = DocInfo(
                    doc=doc,
                    source=row["source"],
                    file=row["file"],
                    domain=row["domain"],
                    title=row["title"],
                    tags=list(row["tags"] or []),
                    content_hash=row["content_hash"],
                    paths=tuple(row["paths"] or []),
                )
        return docs

    async def vectors_by_chunk_hash(self, chunk_hashes: list[str]) -> dict[str, list[float]]:
        """Vectors already stored for these chunk hashes (any file), so they are not re-embedded."""
        from lancedb.expr import col

        if not chunk_hashes:
            return {}
        found: dict[str, list[float]] = {}
        table = self._t()
        for start in range(0, len(chunk_hashes), 1000):
            batch = chunk_hashes[start : start + 1000]
            data = await table.query().where(col("chunk_hash").isin(batch)).select(["chunk_hash", "vector"]).to_arrow()
            found.update(zip(data["chunk_hash"].to_pylist(), data["vector"].to_pylist(), strict=True))
        return found

    async def content_hashes(self, docs: list[str]) -> dict[str, str]:
        """The indexed content hash of each of ``docs`` that has chunks."""
        from lancedb.expr import col

        if not docs:
            return {}
        data = await self._t().query().where(col("doc").isin(docs)).select(["doc", "content_hash"]).to_arrow()
        return dict(zip(data["doc"].to_pylist(), data["content_hash"].to_pylist(), strict=True))

    async def replace_docs(self, docs: list[str], rows: list[dict[str, Any]]) -> None:
        """Atomically make ``rows`` the only chunks of ``docs`` (one commit; [] deletes them)."""
        import pyarrow as pa
        from lancedb.expr import col

        if not docs:
            return
        table = self._t()
        data = pa.Table.from_pylist(rows, schema=await table.schema())
        with self._committing():
            await (
                table.merge_insert("id")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .when_not_matched_by_source_delete(col("doc").isin(docs))
                .execute(data)
            )

    async def optimize(self) -> None:
        """Compact, fold new rows into the indexes, and add a vector index once the table is large."""
        table = self._t()
        with self._committing():
            await table.optimize(cleanup_older_than=timedelta(minutes=5))
            rows = await table.count_rows()
            if rows >= ANN_MIN_ROWS and not any(ix.columns == ["vector"] for ix in await table.list_indices()):
                from lancedb.index import IvfFlat

                partitions = max(4, round(math.sqrt(rows) / 4))
                await table.create_index("vector", config=IvfFlat(distance_type="cosine", num_partitions=partitions))
                log.info("created a vector index (IVF_FLAT, %d partitions) over %d chunks", partitions, rows)

    async def vector_search(self, vector: list[float], where: Expr | None, limit: int) -> list[dict[str, Any]]:
        query = self._t().query().nearest_to(vector).distance_type("cosine").nprobes(ANN_NPROBES)
        if where is not None:
            query = query.where(where)
        rows: list[dict[str, Any]] = await query.select([*RESULT_COLUMNS, "_distance"]).limit(limit).to_list()
        return rows

    async def text_search(self, text: str, where: Expr | None, limit: int) -> list[dict[str, Any]]:
        query = self._t().query().nearest_to_text(text, columns="search_text")
        if where is not None:
            query = query.where(where)
        rows: list[dict[str, Any]] = await query.select([*RESULT_COLUMNS, "_score"]).limit(limit).to_list()
        return rows


def build_filter(
    *, domain: str | None, source: str | None, tags: list[str] | None, exclude_docs: list[str] | None = None
) -> Expr | None:
    """AND of the given filters; a chunk matches tags only if it has all of them; ``exclude_docs`` never match."""
    from lancedb.expr import col, lit

    parts: list[Expr] = []
    if exclude_docs:
        parts.append(~col("doc").isin(exclude_docs))
    if domain is not None:
        parts.append(col("domain") == lit(domain))
    if source is not None:
        parts.append(col("source") == lit(source))
    if tags:
        parts.extend(col("tags_key").contains(lit(f"|{tag}|")) for tag in tags)  # all of them
    if not parts:
        return None
    result = parts[0]
    for part in parts[1:]:
        result = result & part
    return result
