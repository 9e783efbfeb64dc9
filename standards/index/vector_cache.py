"""Embeddings shared across projects: a content-addressed cache under the user's cache folder.

Every project indexes the same starter standards; their vectors are computed once per user and
model, not once per project. Entries are keyed by a fingerprint of the model (its name, dimension
and, for the bundled model, its package's version and files' content, the same in every venv and
checkout; for another local model folder, the resolved path, size and mtime of its weights) and the chunk
hash (which already covers the chunker version, the model name and the chunk's text), so a
vector is only ever reused for the same text under the same model.

It is a cache, never the system of record, so unlike :mod:`standards.sqlite` it does not refuse a
damaged file: an unreadable database is deleted and started afresh, a row of the wrong size or
with non-finite values is ignored, and any other error (locked by another process, disk full)
makes one call a miss rather than fail indexing. The starter standards' vectors shipped with the
package (:mod:`standards.index.starter_vectors`) are looked up first, so even a user's first project
embeds none of them, and the bound below can never evict them. Bounded: at most :data:`MAX_ENTRIES` vectors
(least recently used are dropped). It also keeps how files were chunked
(:mod:`standards.index.chunk_cache`, at most :data:`MAX_CHUNKINGS`, oldest dropped), so a new
project does not chunk the starters again either. Folder 0700, file 0600. Blocking: call it from
a thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import sqlite3
import threading
import time
from array import array
from pathlib import Path
from typing import TYPE_CHECKING, Any

from standards.private_dir import private_folder

if TYPE_CHECKING:
    from standards.index.starter_vectors import StarterVectors

log = logging.getLogger(__name__)

FILE_NAME = "embeddings.sqlite3"
#: Upper bound of cached vectors (384 dimensions: about 1.6 KB each, so ~80 MB).
MAX_ENTRIES = 50_000
#: Share of entries dropped (least recently used) when the bound is passed.
PRUNE_FRACTION = 0.1
_BUSY_TIMEOUT_SECONDS = 2.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    chunk_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    used REAL NOT NULL,
    PRIMARY KEY (model, chunk_hash)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vectors_used ON vectors (used);
CREATE TABLE IF NOT EXISTS chunkings (
    model TEXT NOT NULL,
    key TEXT NOT NULL,
    doc TEXT NOT NULL,
    used REAL NOT NULL,
    PRIMARY KEY (model, key)
) WITHOUT ROWID;
"""
#: Upper bound of cached chunkings (one per file version: the starters are a few dozen).
MAX_CHUNKINGS = 5_000


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/agent-personas`` or ``~/.cache/agent-personas``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agent-personas"


def model_fingerprint(embedder: Any) -> str:
    """Name (which carries the backend: ``:onnx-int8``) and dimension, plus for the bundled model its
    install-independent identity (:func:`~standards.index.embedder.bundled_identity`: the same key in
    every venv and checkout, so a new one finds the user's cached vectors), and for any other local
    model folder its resolved path and its weight files' sizes and mtimes (strict: new weights put in
    the folder never reuse the old ones' vectors)."""
    parts = [str(embedder.name), str(embedder.dimension)]
    folder = getattr(embedder, "model_path", None)
    if isinstance(folder, Path) and folder.is_dir():
        from standards.index.model_identity import bundled_identity

        if (identity := bundled_identity(folder)) is not None:
            parts.append(identity)
            return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
        parts.append(str(folder.resolve()))
        for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
            stat = weights.stat()
            parts.append(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


class VectorCache:
    """``get``/``put`` vectors by chunk hash for one model; thread-safe, best effort.

    ``shipped``: the starter standards' vectors shipped with the package
    (:mod:`standards.index.starter_vectors`), read-only, looked up first (never pruned, never
    written here). ``folder`` None: no SQLite file (the user turned the cache off), only those."""

    def __init__(
        self,
        folder: Path | None,
        model: str,
        dimension: int,
        *,
        max_entries: int = MAX_ENTRIES,
        shipped: StarterVectors | None = None,
    ) -> None:
        self.path = (folder or Path()) / FILE_NAME
        self._model = model
        self._dimension = dimension
        self._max = max_entries
        self._shipped = shipped
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._disabled = folder is None
        self.hits = 0
        #: Of :attr:`hits`, the vectors that came from the shipped starter vectors.
        self.shipped_hits = 0

    def stores_vectors(self) -> bool:
        """Whether :meth:`put` keeps vectors (a user cache is on and usable)."""
        return not self._disabled

    def may_hold_all(self) -> bool:
        """False when no lookup can find anything: no SQLite file and no shipped vectors of this model."""
        return not self._disabled or (self._shipped is not None and self._shipped.covers_model())

    # ----------------------------------------------------------------- opening

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is not None or self._disabled:
            return self._conn
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError as exc:  # not a database / malformed: start afresh, once
            log.warning("embedding cache %s is unreadable (%s); starting a new one", self.path, exc)
            self._remove_files()
            try:
                self._conn = self._open()
            except (sqlite3.Error, OSError) as again:
                self._disable(again)
        except OSError as exc:
            self._disable(exc)
        return self._conn

    def _open(self) -> sqlite3.Connection:
        folder = private_folder(
            self.path.parent, "the embedding cache", "PERSONAS_EMBEDDING_CACHE_DIR (or PERSONAS_EMBEDDING_CACHE=false)"
        )  # nothing another user planted
        with contextlib.suppress(OSError):
            folder.chmod(0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            conn.execute("SELECT count(*) FROM vectors WHERE model = ?", (self._model,)).fetchone()
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _remove_files(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{self.path}{suffix}").unlink()

    def _disable(self, exc: BaseException) -> None:
        if not self._disabled:
            log.warning("embedding cache %s disabled for this process: %s", self.path, exc)
        self._disabled = True
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None

    # ----------------------------------------------------------------- use

    def get(self, chunk_hashes: list[str]) -> dict[str, list[float]]:
        """Shipped, then cached vectors for these hashes (valid ones only); marks cached ones recently used."""
        shipped = self._shipped.get(chunk_hashes) if self._shipped is not None and chunk_hashes else {}
        self.shipped_hits += len(shipped)
        self.hits += len(shipped)
        found = self._get_cached([h for h in chunk_hashes if h not in shipped] if shipped else chunk_hashes)
        return {**shipped, **found} if shipped else found

    def _get_cached(self, chunk_hashes: list[str]) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        if not chunk_hashes:
            return found
        with self._lock:
            conn = self._connect()
            if conn is None:
                return found
            try:
                sql = "SELECT chunk_hash, vector FROM vectors WHERE model = ? AND chunk_hash IN ({marks})"
                for chunk_hash, blob in _in_batches(conn, sql, (self._model,), chunk_hashes):
                    vector = self._decode(blob)
                    if vector is not None:
                        found[str(chunk_hash)] = vector
                if found:
                    self._touch(conn, list(found))
            except sqlite3.DatabaseError as exc:
                self._on_error(exc)
                return {}
        self.hits += len(found)
        return found

    def put(self, vectors: dict[str, list[float]]) -> None:
        """Store vectors (a failure only logs: the cache is optional)."""
        rows = [(self._model, h, self._encode(v), time.time()) for h, v in vectors.items() if len(v) == self._dimension]
        if not rows:
            return
        with self._lock:
            conn = self._connect()
            if conn is None:
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
                conn.execute("COMMIT")
                self._prune(conn)
            except sqlite3.DatabaseError as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                self._on_error(exc)

    def get_chunkings(self, keys: list[str]) -> dict[str, str]:
        """Cached chunkings (JSON text) by key (:mod:`standards.index.chunk_cache`)."""
        found: dict[str, str] = {}
        if not keys:
            return found
        with self._lock:
            conn = self._connect()
            if conn is None:
                return found
            try:
                sql = "SELECT key, doc FROM chunkings WHERE model = ? AND key IN ({marks})"
                found.update((str(key), str(doc)) for key, doc in _in_batches(conn, sql, (self._model,), keys))
            except sqlite3.DatabaseError as exc:
                self._on_error(exc)
                return {}
        return found

    def put_chunkings(self, docs: dict[str, str]) -> None:
        """Store chunkings (a failure only logs: the cache is optional); the oldest go past the bound."""
        if not docs:
            return
        now = time.time()
        with self._lock:
            conn = self._connect()
            if conn is None:
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "INSERT OR REPLACE INTO chunkings VALUES (?, ?, ?, ?)",
                    [(self._model, key, doc, now) for key, doc in docs.items()],
                )
                conn.execute("COMMIT")
                count = int(conn.execute("SELECT count(*) FROM chunkings").fetchone()[0])
                if count > MAX_CHUNKINGS:
                    conn.execute(
                        "DELETE FROM chunkings WHERE (model, key) IN (SELECT model, key FROM chunkings ORDER BY used "
                        "LIMIT ?)",
                        (count - MAX_CHUNKINGS + int(MAX_CHUNKINGS * PRUNE_FRACTION),),
                    )
            except sqlite3.DatabaseError as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                self._on_error(exc)

    def __len__(self) -> int:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return 0
            return int(conn.execute("SELECT count(*) FROM vectors").fetchone()[0])

    # ----------------------------------------------------------------- helpers

    def _touch(self, conn: sqlite3.Connection, hashes: list[str]) -> None:
        now = time.time()
        with contextlib.suppress(sqlite3.OperationalError):  # locked: recency is a hint
            sql = "UPDATE vectors SET used = ? WHERE model = ? AND chunk_hash IN ({marks})"
            _in_batches(conn, sql, (now, self._model), hashes)

    def _prune(self, conn: sqlite3.Connection) -> None:
        count = int(conn.execute("SELECT count(*) FROM vectors").fetchone()[0])
        if count <= self._max:
            return
        drop = count - self._max + int(self._max * PRUNE_FRACTION)
        conn.execute(
            "DELETE FROM vectors WHERE (model, chunk_hash) IN "
            "(SELECT model, chunk_hash FROM vectors ORDER BY used LIMIT ?)",
            (drop,),
        )

    def _on_error(self, exc: sqlite3.DatabaseError) -> None:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            log.debug("embedding cache busy, skipped: %s", exc)
            return
        log.warning("embedding cache %s failed (%s); starting a new one", self.path, exc)
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        self._remove_files()

    def _encode(self, vector: list[float]) -> bytes:
        return array("f", vector).tobytes()

    def _decode(self, blob: object) -> list[float] | None:
        if not isinstance(blob, bytes) or len(blob) != 4 * self._dimension:
            return None
        values = array("f")
        values.frombytes(blob)
        vector = values.tolist()
        return vector if all(math.isfinite(x) for x in vector) else None


#: Keys per ``IN (...)`` list (SQLite's host-parameter limit is 999 on older builds).
IN_BATCH = 500


def _in_batches(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...], keys: list[str]) -> list[Any]:
    """Run ``sql`` (with ``{marks}`` for the ``IN`` list) over ``keys`` in bounded batches; all rows."""
    rows: list[Any] = []
    for start in range(0, len(keys), IN_BATCH):
        batch = keys[start : start + IN_BATCH]
        marks = ",".join("?" * len(batch))
        rows.extend(conn.execute(sql.format(marks=marks), (*params, *batch)).fetchall())
    return rows
