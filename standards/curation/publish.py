"""Writing standards files safely: ``<standards_dir>/<domain>/<topic>.md`` with YAML front matter.

Blocking file I/O; callers run it through ``asyncio.to_thread``. The rules:

- ``domain`` and ``topic`` are slugs, and the resolved target (symlinks followed) stays inside the
  resolved standards dir; a symlinked target file is refused outright.
- Writes are atomic: a temp file in the same folder, fsynced, then moved into place.
- A new standard is *created* with ``os.link``, which fails if the name appeared meanwhile, so
  nothing is ever overwritten by a create. An update replaces the file only if its bytes still
  hash to what the proposal was based on.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from standards.frontmatter import dump, normalize_tags, parse

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_DOMAIN_CHARS = 40
MAX_TOPIC_CHARS = 80
MAX_STANDARD_BYTES = 1_000_000
FRONT_MATTER_ORDER = (
    "title",
    "domain",
    "tags",
    "version",
    "created_by",
    "approved_by",
    "created_at",
    "last_updated",
)


class StandardWriteError(ValueError):
    """The standard cannot be written as asked; the message says why and what to do."""


class StandardExistsError(StandardWriteError):
    pass


class StaleBaseError(StandardWriteError):
    pass


def check_slug(field: str, value: str, max_chars: int) -> None:
    if not SLUG.fullmatch(value) or len(value) > max_chars:
        raise ValueError(
            f"{field} {value!r} must be a lowercase kebab-case slug of at most {max_chars} characters, "
            "e.g. 'jwt-validation'"
        )


def slugify(name: str, max_chars: int = MAX_TOPIC_CHARS) -> str:
    """'API Design (v2).md' stem → 'api-design-v2'; '' when nothing usable is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if len(slug) > max_chars:
        slug = slug[:max_chars].rsplit("-", 1)[0] if "-" in slug[:max_chars] else slug[:max_chars]
    return slug


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def standard_path(standards_dir: Path, domain: str, topic: str) -> Path:
    """The file a standard for ``domain/topic`` lives in. Raises ValueError (bad slug) or
    StandardWriteError (it would leave the standards dir: symlinked folder or file)."""
    check_slug("domain", domain, MAX_DOMAIN_CHARS)
    check_slug("topic", topic, MAX_TOPIC_CHARS)
    root = standards_dir.expanduser().resolve()
    folder = root / domain
    target = folder / f"{topic}.md"
    for candidate in (folder, target):
        if os.path.lexists(candidate) and not _inside(candidate.resolve(), root):
            raise StandardWriteError(
                f"{candidate.relative_to(root).as_posix()} is a symlink leading outside the standards folder "
                f"{root}; refusing to write there. Replace the link with a real folder or file."
            )
    if target.is_symlink():
        raise StandardWriteError(
            f"{domain}/{topic}.md is a symlink; standards are written only to regular files. Replace the link "
            "with the file itself."
        )
    if os.path.lexists(target) and not target.is_file():
        raise StandardWriteError(f"{domain}/{topic}.md exists but is not a regular file.")
    return target


def read_existing(target: Path, max_bytes: int = MAX_STANDARD_BYTES) -> bytes | None:
    """The bytes of an existing standard, or None when there is none."""
    try:
        with target.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        return None
    if len(data) > max_bytes:
        raise StandardWriteError(f"{target.name} is larger than {max_bytes:,} bytes; edit it by hand.")
    return data


# ------------------------------------------------------------------ front matter


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _plain(value: Any) -> Any:
    """YAML-safe values: dates become ISO strings, unknown objects their str()."""
    if isinstance(value, datetime):
        return _iso(value) if value.tzinfo else value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@dataclass(frozen=True)
class StandardDocument:
    """What a standard says about itself, before it becomes a file."""

    domain: str
    title: str
    body: str
    created_by: str
    approved_by: str
    tags: list[str] | str | None = None
    extra: dict[str, Any] | None = None
    version: int | None = None
    #: Only an import (a human's own file) may carry its creation time over; a proposal's content never can.
    created_at: Any = None


def render_standard(doc: StandardDocument, *, existing: str | None, now: datetime | None = None) -> str:
    """The file text: front matter (created_* kept from ``existing``, version bumped on update,
    other fields of both kept) and the body, with a ``# Title`` heading if it has none."""
    now = now or datetime.now(UTC)
    old: dict[str, Any] = {}
    if existing is not None:
        old = parse(existing).meta
    new_meta = doc.extra or {}
    meta: dict[str, Any] = {}
    meta["title"] = doc.title
    meta["domain"] = doc.domain
    meta["tags"] = normalize_tags(doc.tags) or normalize_tags(old.get("tags")) or [doc.domain]
    old_version = _version(old.get("version"))
    if existing is not None:
        meta["version"] = (old_version or 1) + 1
    else:
        meta["version"] = doc.version or 1
    meta["created_by"] = old.get("created_by") or doc.created_by
    meta["approved_by"] = doc.approved_by
    meta["created_at"] = old.get("created_at") or doc.created_at or _iso(now)
    meta["last_updated"] = _iso(now)
    for key, value in {**old, **new_meta}.items():
        if key not in FRONT_MATTER_ORDER:
            meta[key] = value
    body = doc.body.strip("\n")
    if not re.search(r"^# \S", body, re.MULTILINE):
        body = f"# {doc.title}\n\n{body}"
    return f"{dump(_plain(meta))}{body}\n"


# ------------------------------------------------------------------ writing


@dataclass(frozen=True)
class Written:
    path: Path
    created: bool
    previous: bytes | None
    sha256: str


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_standard(standards_dir: Path, target: Path, text: str, *, base_hash: str | None) -> Written:
    """Atomically create (``base_hash`` None) or update (the file must still hash to
    ``base_hash``) ``target``. Raises StandardExistsError / StaleBaseError instead of overwriting."""
    root = standards_dir.expanduser().resolve()
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    if not _inside(folder.resolve(), root):  # re-check: the folder may have been swapped meanwhile
        raise StandardWriteError(f"{folder} leads outside the standards folder {root}; refusing to write.")
    data = text.encode("utf-8")
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if base_hash is None:
            os.chmod(tmp, 0o644)
            previous = None
            _create_only(tmp, target)
        else:
            previous = read_existing(target)
            if previous is None:
                raise StaleBaseError(f"{target.name} was deleted after the proposal was made.")
            if content_hash(previous) != base_hash:
                raise StaleBaseError(f"{target.name} changed after the proposal was made.")
            os.chmod(tmp, target.stat().st_mode & 0o777)
            os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(folder)
    return Written(path=target, created=base_hash is None, previous=previous, sha256=content_hash(data))


def _create_only(tmp: Path, target: Path) -> None:
    try:
        os.link(tmp, target)  # atomic, and fails if target exists: a create never overwrites
    except FileExistsError:
        raise StandardExistsError(f"{target.name} already exists.") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.EOPNOTSUPP):
            raise
        # filesystems without hard links: check, then move (a narrow race instead of none)
        if os.path.lexists(target):
            raise StandardExistsError(f"{target.name} already exists.") from None
        os.replace(tmp, target)


def undo_write(written: Written) -> bool:
    """Put back what :func:`write_standard` replaced, if the file is still what it wrote."""
    current = read_existing(written.path)
    if current is None or content_hash(current) != written.sha256:
        return False
    if written.previous is None:
        written.path.unlink()
    else:
        fd, tmp_name = tempfile.mkstemp(dir=written.path.parent, prefix=f".{written.path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(written.previous)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, written.path.stat().st_mode & 0o777)
        os.replace(tmp_name, written.path)
    _fsync_dir(written.path.parent)
    return True
