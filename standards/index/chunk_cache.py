"""How a starter standard was chunked, kept in the shared embedding cache so a new project does not
chunk the starters again (~100 ms of CPU on the way to a new project's first answer: front matter
parsing and a tokenizer call per paragraph). Only the starters (:data:`CACHED_SOURCES`): they are
the same files in every project, a few dozen entries; a project's own files are chunked as before.

A chunking is reused only for the same file (source and root-relative path, which give its
default title) with the same content hash, which already covers the chunker version, the model
and its token limit (:func:`standards.index.indexer.hash_salt`), under the same model fingerprint
(the cache's scope). It is stored as JSON (front matter dates tagged) and only when it decodes to
exactly the same document (front matter JSON cannot hold, e.g. non-text keys, is chunked every time).
Each chunk keeps its token count (entries written before counts were kept have none).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

from standards.index.chunker import Chunk, ParsedDocument

#: Sources whose chunkings are cached: the starter standards shipped with the package.
CACHED_SOURCES = frozenset({"universal"})


def chunking_key(source: str, file: str, content_hash: str) -> str:
    return hashlib.sha256(f"{source}\x00{file}\x00{content_hash}".encode()).hexdigest()


def _as_json(parsed: ParsedDocument) -> dict[str, Any]:
    return {
        "title": parsed.title,
        "tags": parsed.tags,
        "metadata": parsed.metadata,
        "chunks": [[list(chunk.heading_path), chunk.text, chunk.tokens] for chunk in parsed.chunks],
        "warnings": parsed.warnings,
    }


def _tagged(value: object) -> dict[str, str]:
    """Front matter dates (YAML gives date and datetime objects) as tagged JSON objects."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not kept in the chunk cache")


def _untagged(obj: dict[str, Any]) -> object:
    if len(obj) == 1 and isinstance(obj.get("$datetime"), str):
        return datetime.fromisoformat(obj["$datetime"])
    if len(obj) == 1 and isinstance(obj.get("$date"), str):
        return date.fromisoformat(obj["$date"])
    return obj


def encode(parsed: ParsedDocument) -> str | None:
    """The chunking as JSON, or None when it would not come back unchanged from :func:`decode`."""
    try:
        text = json.dumps(_as_json(parsed), ensure_ascii=False, allow_nan=False, default=_tagged)
    except (TypeError, ValueError):
        return None
    return text if decode(text) == parsed else None


def decode(text: str) -> ParsedDocument | None:
    """The chunking stored by :func:`encode` (None if the entry is not one)."""
    try:
        doc = json.loads(text, object_hook=_untagged)
        parsed = ParsedDocument(
            title=doc["title"],
            tags=list(doc["tags"]),
            metadata=dict(doc["metadata"]),
            chunks=[Chunk(tuple(path), body, *tokens) for path, body, *tokens in doc["chunks"]],
            warnings=list(doc["warnings"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    texts = [parsed.title, *parsed.tags, *parsed.warnings]
    texts += [part for chunk in parsed.chunks for part in (*chunk.heading_path, chunk.text)]
    counts_ok = all(chunk.tokens is None or type(chunk.tokens) is int for chunk in parsed.chunks)
    return parsed if counts_ok and all(isinstance(t, str) for t in texts) else None
