"""The starter standards' vectors, shipped with them: no machine ever embeds the starters.

``starter_vectors.bin`` (next to this module, package data) holds one vector per distinct chunk of
``standards/universal`` under the default backend's model (the bundled all-MiniLM-L6-v2, ONNX int8),
keyed by chunk hash. A chunk hash covers the chunker version, the model's name and token limit and
the chunk's text (:func:`standards.index.indexer.hash_salt`), so an edited starter's new chunks
simply find no entry (and are embedded as any other text); the file also names the model
fingerprint it was computed under (:func:`~standards.index.vector_cache.model_fingerprint`: the
bundled package's version and files' content), and is not used at all for any other model or
backend. The shared embedding cache (:class:`~standards.index.vector_cache.VectorCache`) consults it
before its own SQLite file and before the embedder, read-only, so the starters are never evicted by
the cache's bound. Read lazily, on the first lookup; a damaged file (its SHA-256 does not match) is
logged and ignored.

Vectors are stored as float16 and renormalised on reading: against float32 every cosine is
≥ 0.9999999 and scores move by < 5e-5, far below the int8 model's own noise (the same chunk embedded
in another batch: cosine ≥ 0.984), and the top 10 starters for 20 queries are the same. Each vector
is the chunk embedded alone (the query path: no padding, so no dependence on the batch it was in).

Regenerate it after editing a starter or changing the chunker or the model (a test fails until then)::

    python -m standards.index.starter_vectors --write
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from standards.index.embedder import Embedder

log = logging.getLogger(__name__)

FILE_NAME = "starter_vectors.bin"
MAGIC = b"agent-personas starter vectors 1\n"
#: The backend whose vectors are shipped: what ``auto`` picks when onnxruntime is installed.
BACKEND = "onnx-int8"
REGENERATE = "python -m standards.index.starter_vectors --write"
_HASH_BYTES = 32


def shipped_path() -> Path:
    return Path(__file__).with_name(FILE_NAME)


class StarterVectors:
    """Read-only vectors by chunk hash for one model fingerprint (none for another model).
    Thread-safe; the file is read on the first :meth:`get`."""

    def __init__(self, fingerprint: str, dimension: int, path: Path | None = None) -> None:
        self.path = path or shipped_path()
        self._fingerprint = fingerprint
        self._dimension = dimension
        self._lock = threading.Lock()
        self._rows: dict[str, int] | None = None
        self._matrix: np.ndarray | None = None

    def get(self, chunk_hashes: list[str]) -> dict[str, list[float]]:
        """The shipped vectors of those hashes that have one."""
        rows, matrix = self._load()
        if not rows or matrix is None:
            return {}
        return {h: matrix[rows[h]].tolist() for h in chunk_hashes if h in rows}

    def covers_model(self) -> bool:
        """Whether the file holds vectors of this model (reads it on first use)."""
        return bool(self._load()[0])

    def _load(self) -> tuple[dict[str, int], np.ndarray | None]:
        with self._lock:
            if self._rows is None:
                self._rows = {}
                try:
                    header, payload = read_header(self.path)
                    if header["fingerprint"] != self._fingerprint or header["dimension"] != self._dimension:
                        log.debug("shipped starter vectors are for %s, not this model", header["model"])
                        return self._rows, None
                    hashes, self._matrix = decode(self.path, header, payload)
                except FileNotFoundError:
                    log.debug("no shipped starter vectors at %s", self.path)
                    return self._rows, None
                except (OSError, ValueError) as exc:
                    log.warning("shipped starter vectors unusable, embedding the starters instead: %s", exc)
                    return self._rows, None
                self._rows = {h: i for i, h in enumerate(hashes)}
            return self._rows, self._matrix


def _fix() -> str:
    return f"reinstall agent-personas or run `{REGENERATE}`"


def read_header(path: Path) -> tuple[dict[str, Any], bytes]:
    """(header, payload) of a starter vectors file; :class:`ValueError` naming the file, the cause
    and the fix if it is not one."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise ValueError(f"{path} is not a starter vectors file (no {MAGIC!r} header): {_fix()}")
    end = data.find(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC) : end if end >= 0 else len(data)])
        header["count"], header["dimension"] = int(header["count"]), int(header["dimension"])
        if not all(isinstance(header.get(key), str) for key in ("model", "fingerprint", "sha256")):
            raise TypeError("model, fingerprint or sha256 is not a string")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} has an unreadable header ({exc}): {_fix()}") from exc
    return header, data[end + 1 :] if end >= 0 else b""


def decode(path: Path, header: dict[str, Any], payload: bytes) -> tuple[list[str], np.ndarray]:
    """(chunk hashes, float32 unit rows) of the payload; :class:`ValueError` if it is damaged."""
    import numpy as np

    count, dimension = header["count"], header["dimension"]
    if len(payload) != count * (_HASH_BYTES + 2 * dimension) or hashlib.sha256(payload).hexdigest() != header["sha256"]:
        raise ValueError(f"{path} is damaged (its size or SHA-256 does not match its header): {_fix()}")
    hashes = [payload[i : i + _HASH_BYTES].hex() for i in range(0, count * _HASH_BYTES, _HASH_BYTES)]
    matrix = np.frombuffer(payload, dtype="<f2", offset=count * _HASH_BYTES).astype(np.float32)
    matrix = matrix.reshape(count, dimension)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return hashes, matrix


def starter_texts(embedder: Embedder) -> dict[str, str]:
    """Search text by chunk hash of every chunk of the shipped starters, as ``embedder``'s index has them."""
    from standards import universal_standards_dir
    from standards.index.indexer import Indexer
    from standards.index.models import StandardsSource
    from standards.index.sources import discover
    from standards.index.store import ChunkStore

    files = discover([StandardsSource(root=universal_standards_dir(), kind="universal")], max_files=20_000)
    with tempfile.TemporaryDirectory() as unused:  # rows_of never opens the store
        rows = Indexer(ChunkStore(Path(unused), writer=False), embedder, max_file_bytes=1_000_000).rows_of(files)
    return {row["chunk_hash"]: row["search_text"] for row in rows}


def default_embedder() -> Embedder:
    from standards.index.embedder import make_embedder

    return make_embedder(None, backend=BACKEND)


def encode(embedder: Embedder, vectors: dict[str, list[float]]) -> bytes:
    """The file's bytes for these vectors (hash order: the same vectors give the same bytes)."""
    import numpy as np

    from standards.index.vector_cache import model_fingerprint

    hashes = sorted(vectors)
    payload = b"".join(bytes.fromhex(h) for h in hashes)
    payload += np.asarray([vectors[h] for h in hashes], dtype="<f2").reshape(len(hashes), -1).tobytes()
    header = {
        "model": embedder.name,
        "fingerprint": model_fingerprint(embedder),
        "dimension": embedder.dimension,
        "dtype": "float16",
        "count": len(hashes),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "regenerate": REGENERATE,
    }
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload


def compute(embedder: Embedder) -> dict[str, list[float]]:
    """Every starter chunk's vector, each embedded alone (blocking; a few seconds)."""
    return {h: embedder.embed([text])[0] for h, text in sorted(starter_texts(embedder).items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m standards.index.starter_vectors",
        description="Check or rewrite the starter standards' shipped vectors (real model, default backend).",
    )
    parser.add_argument("--write", action="store_true", help=f"recompute and write {FILE_NAME}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    embedder = default_embedder()
    path = shipped_path()
    if args.write:
        data = encode(embedder, compute(embedder))
        path.write_bytes(data)
        log.info("wrote %s: %d bytes", path, len(data))
        return 0
    from standards.index.vector_cache import model_fingerprint

    texts = starter_texts(embedder)
    found = StarterVectors(model_fingerprint(embedder), embedder.dimension, path).get(list(texts))
    missing = len(texts) - len(found)
    hint = f"; run `{REGENERATE}`" if missing else ""
    log.info("%s: %d of %d starter chunks covered%s", path, len(found), len(texts), hint)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
