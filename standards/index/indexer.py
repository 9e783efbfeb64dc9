"""Bringing the chunks table in line with the Markdown files (this module's one concern).

Files are read, hashed and chunked in a worker thread, a group at a time, while the changes read
before are embedded and committed (one write group at a time, in order). A file whose
content hash matches the index is skipped; for a changed file only chunks whose text is
new are embedded (vectors of chunks already in the index, in any file, are reused).
Changed files are written in groups of about :data:`WRITE_BATCH` chunks, each group in
one atomic commit, so searches running meanwhile see every file either before or after
its update, never half of it. A group's new texts are sorted by token count (the chunker's)
before being cut into embedding calls, so each padded model batch holds texts of similar length.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from standards.frontmatter import normalize_tags
from standards.index import chunk_cache
from standards.index.chunker import ParsedDocument, chunk_markdown
from standards.index.embedder import Embedder
from standards.index.models import BuildProgress, IndexResult, report_progress
from standards.index.rules import RuleFileError, rule_title, split_rule_front_matter
from standards.index.scope import ScopeError
from standards.index.sources import TOO_LARGE_FIX, ReadResult, SkipFile, SourceFile, doc_metadata, read_standard
from standards.index.store import ChunkStore, DocInfo, StoreCorrupt, tags_key
from standards.index.stored import stored_hash
from standards.index.vector_cache import VectorCache

log = logging.getLogger(__name__)

#: Bump when chunking changes so every file is re-chunked.
CHUNKER_VERSION = "2"
#: Chunks per commit in builds (about). Sorted by length, a group this big pads the model's batches
#: little: playbook corpus padded tokens +14 % over one global sort with 256-chunk groups, +2 % now.
WRITE_BATCH = 1024
#: Texts per embedding call (one blocking worker-thread call, ~2-3 s on two cores).
EMBED_BATCH = 256
#: Files read and chunked per worker-thread call.
READ_GROUP = 16
#: A file with more chunks than this is skipped with a warning (a 1 MB file of prose makes ~1,000).
MAX_CHUNKS_PER_FILE = 2000


@dataclass
class _Prepared:
    sf: SourceFile
    content_hash: str
    parsed: ParsedDocument
    domain: str
    paths: list[str]


@dataclass(frozen=True)
class _Skipped:
    reason: str


def hash_salt(embedder: Embedder) -> str:
    return f"chunker={CHUNKER_VERSION}|model={embedder.name}|max_tokens={embedder.max_tokens}"


def _known_hash(manifest: dict[str, DocInfo], doc: str) -> str | None:
    info = manifest.get(doc)
    return info.content_hash if info is not None else None


def _title_from_name(file: str) -> str:
    stem = PurePosixPath(file).stem
    if stem.lower() in ("readme", "index"):
        parent = PurePosixPath(file).parent.name
        stem = parent or stem
    return stem.replace("-", " ").replace("_", " ").strip().capitalize()


async def _written(writing: asyncio.Task[None] | None, raised: Exception) -> None:
    """After ``raised`` (reading failed) the group read before is still committed; its own error is
    logged. When that write found the index unreadable (:class:`StoreCorrupt`) it is raised instead,
    so the caller rebuilds the index now rather than at the next start, and the read error is logged."""
    if writing is None:
        return
    await asyncio.wait([writing])
    if writing.cancelled() or (error := writing.exception()) is None or error is raised:
        return
    if isinstance(error, StoreCorrupt):
        log.error("reading standards failed while the index was found unreadable: %s", raised, exc_info=raised)
        raise error
    log.error("writing a group of standards failed too: %s", error, exc_info=error)


class Indexer:
    """Writes chunks for files into a store (the caller serialises calls)."""

    def __init__(self, store: ChunkStore, embedder: Embedder, *, max_file_bytes: int) -> None:
        self._store = store
        self._embedder = embedder
        self._max_bytes = max_file_bytes
        self._salt = hash_salt(embedder)
        #: Vectors shared across projects (set by the writer once it is known); None = no cache.
        self.vector_cache: VectorCache | None = None

    def _read(self, sf: SourceFile, known_hash: str | None, force: bool) -> _Prepared | str | _Skipped:
        """Blocking. Returns prepared chunks, 'unchanged', or why the file is unusable/gone."""
        try:
            result: ReadResult = read_standard(sf, max_bytes=self._max_bytes, salt=self._salt)
        except FileNotFoundError:
            log.warning("standards file vanished before it could be read, skipped: %s", sf.path)
            return _Skipped("vanished before it could be read")
        except SkipFile as exc:
            log.warning("standards file skipped: %s: %s", sf.path, exc)
            return _Skipped(str(exc))
        if not force and result.content_hash == known_hash:
            return "unchanged"
        return self._prepare(sf, result.text, result.content_hash)

    def _prepare(self, sf: SourceFile, text: str, content_hash: str) -> _Prepared | _Skipped:
        """Blocking. Chunks and metadata of a standard's text (read from ``sf`` or stored for it)."""
        default_title, meta = _title_from_name(sf.file), None
        if sf.source == "rules":  # a malformed header leaves the scope unknown: skip rather than guess
            try:
                meta, text = split_rule_front_matter(sf.file, text)
            except RuleFileError as exc:
                log.warning("rule file skipped: %s: %s", sf.path, exc)
                return _Skipped(str(exc))
            default_title = rule_title(sf.file, meta)
        parsed = self._chunk(sf, text, content_hash, default_title)
        if len(parsed.chunks) > MAX_CHUNKS_PER_FILE:
            reason = f"{len(parsed.chunks)} chunks, more than {MAX_CHUNKS_PER_FILE} per file: split the file"
            log.warning("standards file skipped: %s: %s", sf.path, reason)
            return _Skipped(reason)
        if meta is not None:
            parsed.metadata, parsed.tags = meta, normalize_tags(meta.get("tags"))
        try:
            domain, paths, warnings = doc_metadata(sf, parsed.metadata)
        except ScopeError as exc:
            log.warning("standards file skipped: %s: %s", sf.path, exc)
            return _Skipped(str(exc))
        for warning in [*parsed.warnings, *warnings]:
            log.warning("standards file %s: %s", sf.path, warning)
        return _Prepared(sf, content_hash, parsed, domain, paths)

    def _chunk(self, sf: SourceFile, text: str, content_hash: str, default_title: str) -> ParsedDocument:
        """Blocking. ``text`` chunked, or the chunking the shared cache holds for this file version
        (starter standards only: the same files in every project)."""
        cache = self.vector_cache if sf.source in chunk_cache.CACHED_SOURCES else None
        key = chunk_cache.chunking_key(sf.source, sf.file, content_hash)
        stored = cache.get_chunkings([key]).get(key) if cache is not None else None
        if stored is not None and (parsed := chunk_cache.decode(stored)) is not None:
            return parsed
        parsed = chunk_markdown(
            text,
            default_title=default_title,
            count_tokens=self._embedder.count_tokens,
            max_tokens=self._embedder.max_tokens,
        )
        if cache is not None and (encoded := chunk_cache.encode(parsed)) is not None:
            cache.put_chunkings({key: encoded})
        return parsed

    def _read_group(
        self, group: list[SourceFile], manifest: dict[str, DocInfo], force: bool
    ) -> list[tuple[SourceFile, _Prepared | str | _Skipped]]:
        out: list[tuple[SourceFile, _Prepared | str | _Skipped]] = []
        for sf in group:
            known = manifest.get(sf.key)
            out.append((sf, self._read(sf, known.content_hash if known else None, force)))
        return out

    async def index(
        self,
        files: list[SourceFile],
        manifest: dict[str, DocInfo],
        *,
        force: bool = False,
        removed: list[str] | None = None,
        progress: Callable[[BuildProgress], None] | None = None,
        lock: asyncio.Lock | None = None,
    ) -> IndexResult:
        """Index ``files`` (skipping unchanged ones unless ``force``); drop ``removed`` doc keys.

        With ``lock`` (the writer's, not held by the caller) files are read and embedded without it
        and it is held only to commit each batch, after checking that every file still has the
        content that was embedded (a newer edit being indexed concurrently wins). Without it, the
        caller holds the writer's lock for the whole pass.
        """
        result = IndexResult()
        started = time.perf_counter()
        total = len(files)
        pending: list[_Prepared] = []
        pending_gone: list[str] = [doc for doc in removed or [] if doc in manifest]
        pending_chunks = 0

        def write(prepared: list[_Prepared], gone: list[str]) -> Coroutine[Any, Any, None]:
            return self._write(prepared, gone, manifest, force, result, lock=lock)

        # A full group is written (embedded, committed) by a task while the next files are read and
        # chunked: reading no longer waits for the model, nor the model for reading. Groups are
        # written one at a time, in order, so at most two are held.
        writing: asyncio.Task[None] | None = None
        in_flight = 0  # files of the group being written
        try:
            for start in range(0, total, READ_GROUP):
                group = files[start : start + READ_GROUP]
                for sf, outcome in await asyncio.to_thread(self._read_group, group, manifest, force):
                    if isinstance(outcome, _Prepared):
                        result.indexed.append(sf.key)
                        if outcome.parsed.chunks or sf.key in manifest:
                            pending.append(outcome)
                            pending_chunks += len(outcome.parsed.chunks)
                    elif isinstance(outcome, _Skipped):
                        result.skipped[sf.key] = outcome.reason
                        if sf.key in manifest:
                            pending_gone.append(sf.key)
                    else:
                        result.indexed.append(sf.key)
                if pending_chunks >= WRITE_BATCH:
                    if writing is not None:
                        await writing
                    writing, in_flight = asyncio.create_task(write(pending, pending_gone)), len(pending)
                    pending, pending_gone, pending_chunks = [], [], 0
                in_flight = 0 if writing is None or writing.done() else in_flight
                result.files_seen = start + len(group) - len(pending) - in_flight
                report_progress(progress, result, started, total)
            if writing is not None:
                await writing
            if pending or pending_gone:
                await write(pending, pending_gone)
        except Exception as exc:
            await _written(writing, exc)
            raise
        finally:
            if writing is not None:
                if not writing.done():  # the pass was cancelled while a group was written
                    writing.cancel()
                    await asyncio.wait([writing])
                if not writing.cancelled():
                    writing.exception()  # retrieved: the error raised here, if any, is the pass's own
        result.files_seen = total
        report_progress(progress, result, started, total)
        return result

    async def index_texts(self, docs: list[tuple[SourceFile, str]], manifest: dict[str, DocInfo]) -> IndexResult:
        """Index standards from their text rather than their file (the caller holds the writer's lock
        and has checked the files are absent): each under the key its file will have, unchanged texts
        skipped. See :mod:`standards.index.stored`."""
        result = IndexResult()

        def prepare() -> list[tuple[SourceFile, _Prepared | _Skipped | str]]:
            out: list[tuple[SourceFile, _Prepared | _Skipped | str]] = []
            for sf, text in docs:
                digest = stored_hash(text, self._salt)
                if len(text.encode("utf-8")) > self._max_bytes:
                    out.append((sf, _Skipped(f"larger than {self._max_bytes} bytes{TOO_LARGE_FIX}")))
                elif digest == _known_hash(manifest, sf.key):
                    out.append((sf, "unchanged"))
                else:
                    out.append((sf, self._prepare(sf, text, digest)))
            return out

        pending: list[_Prepared] = []
        for sf, outcome in await asyncio.to_thread(prepare):
            if isinstance(outcome, _Skipped):
                result.skipped[sf.key] = outcome.reason
                continue
            result.indexed.append(sf.key)
            if isinstance(outcome, _Prepared) and (outcome.parsed.chunks or sf.key in manifest):
                pending.append(outcome)
        result.files_seen = len(docs)
        if pending:
            await self._write(pending, [], manifest, False, result, lock=None)
        return result

    def _rows(self, prepared: list[_Prepared]) -> list[dict[str, Any]]:
        """The table rows (all but the vector) of prepared files, in file then chunk order."""
        rows: list[dict[str, Any]] = []
        for p in prepared:
            tags = p.parsed.tags
            for i, chunk in enumerate(p.parsed.chunks):
                text = chunk.embed_text
                rows.append(
                    {
                        "id": f"{p.sf.key}#{i}",
                        "doc": p.sf.key,
                        "source": p.sf.source,
                        "file": p.sf.file,
                        "domain": p.domain,
                        "paths": p.paths,
                        "title": p.parsed.title,
                        "heading_path": list(chunk.heading_path),
                        "tags": tags,
                        "tags_key": tags_key(tags),
                        "text": chunk.text,
                        "search_text": text,
                        "chunk_hash": hashlib.sha256(f"{self._salt}\x00{text}".encode()).hexdigest(),
                        "content_hash": p.content_hash,
                        "chunk_index": i,
                    }
                )
        return rows

    def rows_of(self, files: list[SourceFile]) -> list[dict[str, Any]]:
        """Blocking. The rows (without vectors) a build of an empty table would write for ``files``,
        in the order it writes them (skipped files left out): what a start-up copy is built from."""
        prepared: list[_Prepared] = []
        for _, outcome in self._read_group(files, {}, False):
            if isinstance(outcome, _Prepared) and outcome.parsed.chunks:
                prepared.append(outcome)
        return self._rows(prepared)

    async def _write(
        self,
        prepared: list[_Prepared],
        gone: list[str],
        manifest: dict[str, DocInfo],
        force: bool,
        result: IndexResult,
        *,
        lock: asyncio.Lock | None,
    ) -> None:
        rows = self._rows(prepared)
        hashes = list(dict.fromkeys(row["chunk_hash"] for row in rows))
        reuse = {} if force else await self._store.vectors_by_chunk_hash(hashes)
        texts = {row["chunk_hash"]: row["search_text"] for row in rows}
        missing = [h for h in hashes if h not in reuse]
        cache = self.vector_cache
        if cache is not None and missing and not force:
            cached = await asyncio.to_thread(cache.get, missing)
            reuse.update(cached)
            result.cache_hits += len(cached)
            missing = [h for h in missing if h not in cached]
        fresh: dict[str, list[float]] = {}
        if len(missing) > EMBED_BATCH:  # calls of similar lengths: less padding in the model's batches
            chunks = (chunk for p in prepared for chunk in p.parsed.chunks)  # one per row, in row order
            sizes = {row["chunk_hash"]: chunk.tokens for row, chunk in zip(rows, chunks, strict=True)}
            missing = await asyncio.to_thread(sorted, missing, key=lambda h: self._size(sizes[h], texts[h]))
        for start in range(0, len(missing), EMBED_BATCH):  # one bounded call at a time
            batch = missing[start : start + EMBED_BATCH]
            vectors = await asyncio.to_thread(self._embedder.embed, [texts[h] for h in batch])
            fresh.update(zip(batch, vectors, strict=True))
            result.texts_embedded += len(batch)
        reuse.update(fresh)
        if cache is not None and fresh:
            await asyncio.to_thread(cache.put, fresh)
        for row in rows:
            row["vector"] = reuse[row["chunk_hash"]]
        if lock is None:
            await self._commit(prepared, gone, rows, manifest, result)
            return
        async with lock:
            current = await asyncio.to_thread(self._still_current, prepared)
            now = await self._store.content_hashes(gone)
            # a removal stands only if nobody wrote the file's chunks since this pass started
            current.update(doc for doc in gone if now.get(doc) == _known_hash(manifest, doc))
            prepared = [p for p in prepared if p.sf.key in current]
            gone = [doc for doc in gone if doc in current]
            rows = [row for row in rows if row["doc"] in current]
            await self._commit(prepared, gone, rows, manifest, result)

    def _size(self, tokens: int | None, text: str) -> int:
        """Tokens of a chunk's text: the chunker's count (no second tokenizer pass), else counted now."""
        return tokens if tokens is not None else self._embedder.count_tokens(text)

    def _still_current(self, prepared: list[_Prepared]) -> set[str]:
        """Blocking. Doc keys whose file still has the content that was read and embedded."""
        current: set[str] = set()
        for p in prepared:
            outcome = self._read_hash(p.sf)
            if outcome == p.content_hash:
                current.add(p.sf.key)
            else:
                log.info("standards file changed while it was being indexed; the newer edit wins: %s", p.sf.path)
        return current

    def _read_hash(self, sf: SourceFile) -> str | None:
        try:
            return read_standard(sf, max_bytes=self._max_bytes, salt=self._salt).content_hash
        except (OSError, SkipFile):
            return None

    async def _commit(
        self,
        prepared: list[_Prepared],
        gone: list[str],
        rows: list[dict[str, Any]],
        manifest: dict[str, DocInfo],
        result: IndexResult,
    ) -> None:
        docs = [p.sf.key for p in prepared] + gone
        if not docs:
            return
        await self._store.replace_docs(docs, rows)
        result.chunks_written += len(rows)
        result.changed.extend(docs)
        result.changed_files.extend([p.sf.file for p in prepared] + [manifest[d].file for d in gone if d in manifest])
