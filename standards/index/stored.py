"""Standards known from the system of record before this host can read their files.

An approval writes ``<domain>/<topic>.md`` on the approving host and keeps the approved content in
the database. A host whose standards folder lags (a network mount, a checkout that has not pulled)
indexes that content under the same document key the file will have, so its searches serve the
standard at once; once the file appears the file wins (it replaces the document's chunks; nothing
is doubled). A host still holding the version an approved update replaced serves the update too.
Where the text comes from is the caller's business (:data:`StoredLookup`); this module
only decides which stored standards this host lacks the file of (blocking I/O).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from standards.index.models import StandardsSource
from standards.index.sources import SourceFile, is_hidden, is_markdown, resolved_roots

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredStandard:
    """A standard's text as the system of record holds it."""

    source: str
    """The kind of standards folder its file is written to ('project' or 'shared')."""
    file: str
    """Its path relative to that folder, e.g. ``security/jwt-verification.md``."""
    text: str
    """The file's text (front matter and body)."""
    replaces: str | None = None
    """sha256 of the file this version updated: a host still holding that file lacks the new one too."""


StoredLookup = Callable[[list[str] | None], Awaitable[list[StoredStandard]]]
"""Stored standards for these root-relative files (None: every recent one) — a query of the database."""


def stored_hash(text: str, salt: str) -> str:
    """The content hash the indexer gives a file with this text (see ``sources.read_standard``)."""
    digest = hashlib.sha256(salt.encode())
    digest.update(b"\x00")
    digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def safe_file(file: str) -> bool:
    """A plain root-relative Markdown path (no ``..``, not absolute, nothing hidden)."""
    rel = PurePosixPath(file)
    return (
        bool(file) and not rel.is_absolute() and ".." not in rel.parts and not is_hidden(file) and is_markdown(rel.name)
    )


def _sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def absent(sources: list[StandardsSource], stored: list[StoredStandard]) -> list[tuple[SourceFile, str]]:
    """Blocking. The stored standards this host lacks the file of (no folder of their kind holds it,
    or only the version they updated), as the file they stand in for and its text; one per document
    (the first wins)."""
    roots = resolved_roots(sources)
    out: dict[str, tuple[SourceFile, str]] = {}
    for doc in stored:
        folders = [root for kind, root in roots if kind == doc.source]
        if not folders or not safe_file(doc.file):
            continue  # this host has no such folder, or the name is not one an approval writes
        present = next((folder / doc.file for folder in folders if os.path.lexists(folder / doc.file)), None)
        if present is not None and (doc.replaces is None or _sha256(present) != doc.replaces):
            continue  # the file is here (and not the version this one replaced): it wins
        sf = SourceFile(doc.source, folders[0], doc.file)
        out.setdefault(sf.key, (sf, doc.text))
    return list(out.values())


async def stand_ins(
    lookup: StoredLookup | None, sources: list[StandardsSource], files: list[str] | None
) -> list[tuple[SourceFile, str]]:
    """The stored standards (every recent one, or these files) this host lacks the file of; none
    when there is no lookup or it fails (the files, once they arrive, are indexed as usual)."""
    if lookup is None:
        return []
    try:
        docs = await lookup(files)
    except Exception:
        log.warning("could not read approved standards from the database", exc_info=True)
        return []
    return await asyncio.to_thread(absent, sources, docs)
