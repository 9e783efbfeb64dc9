"""Bring an existing Markdown or text document in as a standard (``personas standards add``).

Blocking file I/O: call :func:`import_document` through ``asyncio.to_thread``. The document is
checked (type, size, UTF-8 text), secret-scanned, given front matter (its own fields kept) and
created at ``<standards_dir>/<domain>/<topic>.md``, never overwriting an existing standard.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field

from standards.control_chars import check_no_controls
from standards.curation.publish import (
    MAX_STANDARD_BYTES,
    MAX_TOPIC_CHARS,
    StandardDocument,
    StandardExistsError,
    render_standard,
    slugify,
    standard_path,
    write_standard,
)
from standards.curation.secrets import ScanTarget, check_no_secrets
from standards.curation.service import ProposalError
from standards.frontmatter import split as split_front_matter

IMPORT_SUFFIXES = (".md", ".markdown", ".txt")


class ImportResult(BaseModel):
    file: str = Field(description="Path relative to the standards folder, e.g. 'security/tls.md'.")
    path: str
    domain: str
    topic: str
    title: str
    message: str


def _read_document(source: Path, max_bytes: int) -> str:
    if source.suffix.lower() not in IMPORT_SUFFIXES:
        raise ProposalError(
            f"{source.name}: only Markdown or text documents can be imported ({', '.join(IMPORT_SUFFIXES)})."
        )
    if not source.is_file():
        raise ProposalError(f"{source}: no such file.")
    size = source.stat().st_size
    if size > max_bytes:
        raise ProposalError(f"{source.name} is {size:,} bytes; the limit is {max_bytes:,} bytes.")
    data = source.read_bytes()[: max_bytes + 1]
    if len(data) > max_bytes:
        raise ProposalError(f"{source.name} is larger than {max_bytes:,} bytes.")
    if b"\x00" in data:
        raise ProposalError(f"{source.name} looks binary (it contains NUL bytes); import Markdown or text.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProposalError(f"{source.name} is not valid UTF-8 (byte {exc.start}); convert it first.") from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ProposalError(f"{source.name} is empty.")
    return text


def _title(meta_title: object, body: str, topic: str) -> str:
    if isinstance(meta_title, str) and meta_title.strip():
        return meta_title.strip()
    heading = re.search(r"^# +(.+?)\s*#*\s*$", body, re.MULTILINE)
    if heading:
        return heading.group(1).strip()
    return topic.replace("-", " ").capitalize()


def import_document(
    source: Path,
    standards_dir: Path,
    *,
    domain: str,
    topic: str | None = None,
    title: str | None = None,
    approved_by: str,
    max_bytes: int = MAX_STANDARD_BYTES,
) -> ImportResult:
    """Create a standard from ``source``. Raises ProposalError (or ValueError for a bad slug)."""
    text = _read_document(source, max_bytes)
    slug = slugify(topic if topic is not None else source.stem, MAX_TOPIC_CHARS)
    if not slug:
        raise ProposalError(
            f"cannot derive a topic from {topic or source.name!r}; pass --topic with a kebab-case name."
        )
    try:
        check_no_secrets(ScanTarget(source.name, text))
        check_no_controls(source.name, text)  # as for proposals: escapes and bidi overrides can hide text
        meta, body = split_front_matter(text)
    except ValueError as exc:
        raise ProposalError(f"{source.name} was not imported: {exc}") from None
    target = standard_path(standards_dir, domain, slug)
    if target.exists():
        raise ProposalError(
            f"{domain}/{slug}.md already exists; import never overwrites a standard. Choose another --topic, "
            "or change the existing file through a proposal."
        )
    final_title = (title or "").strip() or _title(meta.get("title"), body, slug)
    tags = meta.pop("tags", None)
    version = meta.get("version")
    for managed in ("title", "domain", "version", "approved_by", "last_updated"):
        meta.pop(managed, None)
    created_by = str(meta.pop("created_by", "") or approved_by)
    doc = StandardDocument(
        domain=domain,
        title=final_title,
        body=body,
        created_by=created_by,
        approved_by=approved_by,
        tags=tags if isinstance(tags, list | str) else None,
        extra=meta,
        version=version if isinstance(version, int) and not isinstance(version, bool) and version > 0 else None,
        created_at=meta.pop("created_at", None),
    )
    rendered = render_standard(doc, existing=None)
    try:
        written = write_standard(standards_dir, target, rendered, base_hash=None)
    except StandardExistsError:
        raise ProposalError(f"{domain}/{slug}.md appeared meanwhile; import never overwrites a standard.") from None
    return ImportResult(
        file=f"{domain}/{slug}.md",
        path=str(written.path),
        domain=domain,
        topic=slug,
        title=final_title,
        message=f"Imported {source.name} as {written.path}.",
    )
