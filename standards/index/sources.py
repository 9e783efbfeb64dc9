"""Finding and safely reading standards files under the configured roots (blocking I/O)."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from standards.index.models import StandardsSource

log = logging.getLogger(__name__)

GENERAL_DOMAIN = "general"
MARKDOWN_SUFFIXES = (".md", ".markdown")


class SkipFile(Exception):
    """A file that cannot be indexed; the message says why."""


@dataclass(frozen=True)
class SourceFile:
    """One Markdown file under a root."""

    source: str  # "project" | "universal"
    root: Path  # resolved root
    file: str  # posix path relative to root

    @property
    def key(self) -> str:
        return doc_key(self.source, self.file)

    @property
    def path(self) -> Path:
        return self.root / self.file

    @property
    def domain(self) -> str:
        return domain_of(self.file)


def doc_key(source: str, file: str) -> str:
    """Unique id of a document across roots."""
    return f"{source}:{file}"


def domain_of(file: str) -> str:
    """First-level folder of a root-relative path; files directly in a root are 'general'."""
    parts = PurePosixPath(file).parts
    return parts[0] if len(parts) > 1 else GENERAL_DOMAIN


def is_markdown(name: str) -> bool:
    return name.lower().endswith(MARKDOWN_SUFFIXES) and not name.startswith(".")


def resolved_roots(sources: list[StandardsSource]) -> list[tuple[str, Path]]:
    """(kind, resolved root) for every configured source, in configuration order."""
    return [(s.kind, s.root.expanduser().resolve()) for s in sources]


def discover(sources: list[StandardsSource]) -> list[SourceFile]:
    """Every Markdown file under the roots (hidden folders skipped, symlinked folders not followed)."""
    found: list[SourceFile] = []
    for kind, root in resolved_roots(sources):
        found.extend(discover_under(kind, root, ""))
    return found


def discover_under(kind: str, root: Path, rel: str) -> list[SourceFile]:
    """Markdown files in the folder ``rel`` ('' = the whole root) of one root."""
    top = root / rel if rel else root
    if not top.is_dir() or is_hidden(rel):
        return []
    found: list[SourceFile] = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if is_markdown(name):
                found.append(SourceFile(kind, root, (Path(dirpath) / name).relative_to(root).as_posix()))
    return found


def is_hidden(rel: str) -> bool:
    """True if any part of a root-relative path starts with a dot (such files are never indexed)."""
    return any(part.startswith(".") for part in PurePosixPath(rel).parts)


def locate(sources: list[StandardsSource], path: Path) -> list[tuple[str, Path, str]]:
    """Roots containing ``path`` as (kind, root, relative posix path); '' for the root itself.

    The path is not resolved (it may no longer exist, or be a symlink); only its parent
    folder is, so roots reached through a symlinked folder still match.
    """
    absolute = path if path.is_absolute() else Path.cwd() / path
    candidates = {Path(os.path.normpath(absolute))}
    parent = absolute.parent
    if parent.exists():
        candidates.add(parent.resolve() / absolute.name)
    matches: list[tuple[str, Path, str]] = []
    for kind, root in resolved_roots(sources):
        for candidate in candidates:
            if candidate == root or root in candidate.parents:
                rel = candidate.relative_to(root).as_posix()
                matches.append((kind, root, "" if rel == "." else rel))
                break
    return matches


@dataclass(frozen=True)
class ReadResult:
    text: str
    content_hash: str


def read_standard(sf: SourceFile, *, max_bytes: int, salt: str) -> ReadResult:
    """Read a standard as UTF-8 text.

    Raises :class:`SkipFile` for files that must not be indexed (symlink leading outside
    the root, not a regular file, larger than ``max_bytes``, binary, invalid UTF-8) and
    :class:`FileNotFoundError` when the file is gone.
    """
    path = sf.path
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError:
        raise
    except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop
        raise SkipFile(f"cannot resolve path: {exc}") from exc
    if resolved != sf.root and sf.root not in resolved.parents:
        raise SkipFile("symlink leads outside the standards root")
    if not resolved.is_file():
        raise SkipFile("not a regular file")
    try:
        with resolved.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SkipFile(f"unreadable: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise SkipFile(f"larger than {max_bytes} bytes")
    if b"\x00" in data:
        raise SkipFile("binary content")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkipFile(f"invalid UTF-8 at byte {exc.start}") from exc
    digest = hashlib.sha256(salt.encode())
    digest.update(b"\x00")
    digest.update(data)
    return ReadResult(text=text, content_hash=digest.hexdigest())


def safe_resolve(sources: list[StandardsSource], file: str, source: str | None) -> Path:
    """Absolute path of ``file`` inside a root; refuses anything that escapes its root.

    With ``source`` None, the project root is tried before the universal one.
    """
    rel = PurePosixPath(file.replace("\\", "/"))
    if not file or rel.is_absolute() or ".." in rel.parts or Path(file).is_absolute():
        raise ValueError(f"not a path inside the standards folders: {file!r}")
    roots = resolved_roots(sources)
    if source is not None:
        roots = [(k, r) for k, r in roots if k == source]
        if not roots:
            raise ValueError(f"unknown standards source: {source!r}")
    else:
        roots.sort(key=lambda kr: kr[0] != "project")
    for _, root in roots:
        candidate = root.joinpath(*rel.parts)
        if not candidate.exists():
            continue
        resolved = candidate.resolve()
        if resolved != root and root not in resolved.parents:
            raise ValueError(f"path leads outside the standards folders: {file!r}")
        return resolved
    raise FileNotFoundError(f"no standard named {file!r}")


def resolve_changes(
    sources: list[StandardsSource], paths: list[Path], known: set[str]
) -> tuple[list[SourceFile], list[str], set[Path]]:
    """Map changed paths (files or folders, existing or gone) to work for the indexer.

    Returns the files to (re)index, the known doc keys to drop, and the roots involved.
    """
    files: dict[str, SourceFile] = {}
    removed: set[str] = set()
    roots: set[Path] = set()
    for path in paths:
        for kind, root, rel in locate(sources, path):
            roots.add(root)
            if is_hidden(rel):
                continue
            target = root / rel if rel else root
            if target.is_dir() and not target.is_symlink():
                prefix = f"{kind}:{rel}/" if rel else f"{kind}:"
                inside = {f.key: f for f in discover_under(kind, root, rel)}
                files.update(inside)
                removed.update(k for k in known if k.startswith(prefix) and k not in inside)
            elif is_markdown(target.name) and os.path.lexists(target):
                sf = SourceFile(kind, root, rel)
                files[sf.key] = sf
            elif is_markdown(target.name):
                removed.add(doc_key(kind, rel))
            else:  # a vanished folder, or a non-Markdown file
                removed.update(k for k in known if k.startswith(f"{kind}:{rel}/"))
    return list(files.values()), sorted(removed & known), roots


def read_capped(path: Path, max_bytes: int) -> str:
    """A standard's text for display (undecodable bytes replaced); refuses files over ``max_bytes`` and
    anything but a regular file (opening a FIFO named ``x.md`` would otherwise block for ever)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ValueError(f"not a regular file: {path.name}")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"standard is larger than {max_bytes} bytes: {path.name}")
    return data.decode("utf-8", errors="replace")
