"""Finding and safely reading standards files under the configured roots (blocking I/O)."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from standards.index.models import StandardsSource
from standards.index.rules import discover_rules, is_rule_file, is_rule_target, rule_domain, rule_scope
from standards.index.scope import normalize_globs
from standards.index.walk import DEFAULT_MAX_FILES, WalkCuts, walk_markdown

log = logging.getLogger(__name__)

GENERAL_DOMAIN = "general"
MARKDOWN_SUFFIXES = (".md", ".markdown")
#: Said after "larger than N bytes" of a standards file that is skipped for its size.
TOO_LARGE_FIX = ": split it into smaller files (one topic each)"


class SkipFile(Exception):
    """A file that cannot be indexed; the message says why."""


@dataclass(frozen=True)
class SourceFile:
    """One Markdown file under a root."""

    source: str  # "project" | "shared" | "universal" | "rules"
    root: Path  # resolved root
    file: str  # posix path relative to root
    domains: tuple[tuple[str, str], ...] = ()  # rules only: glob -> domain mapping

    @property
    def key(self) -> str:
        return doc_key(self.source, self.file)

    @property
    def path(self) -> Path:
        return self.root / self.file

    @property
    def domain(self) -> str:
        return domain_of(self.file)


def doc_metadata(sf: SourceFile, meta: dict[str, object]) -> tuple[str, list[str], list[str]]:
    """(domain, path scope globs, warnings) of a file from its front matter."""
    if sf.source == "rules":
        globs, warnings = rule_scope(sf.file, meta)
        return rule_domain(sf.file, meta, dict(sf.domains)), globs, warnings
    globs, warnings = normalize_globs(meta.get("paths"))
    return sf.domain, globs, warnings


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


def rule_domains(sources: list[StandardsSource]) -> tuple[tuple[str, str], ...]:
    """The domain mapping of the rules source (empty without one)."""
    return next((tuple(s.domains.items()) for s in sources if s.kind == "rules"), ())


def discover(
    sources: list[StandardsSource], *, max_files: int = DEFAULT_MAX_FILES, cuts: WalkCuts | None = None
) -> list[SourceFile]:
    """Every standard under the roots: Markdown files (hidden and heavy folders skipped, symlinked
    folders not followed, at most ``max_files`` per root, a cut told in ``cuts``) and, for a rules
    source, the rule files. Of several roots of one kind (shared folders) the first holding a path wins."""
    found: dict[str, SourceFile] = {}
    for kind, root in resolved_roots(sources):
        for sf in discover_under(kind, root, "", rule_domains(sources), max_files=max_files, cuts=cuts):
            found.setdefault(sf.key, sf)
    return list(found.values())


def discover_under(
    kind: str,
    root: Path,
    rel: str,
    domains: tuple[tuple[str, str], ...] = (),
    *,
    max_files: int = DEFAULT_MAX_FILES,
    cuts: WalkCuts | None = None,
) -> list[SourceFile]:
    """Standards in the folder ``rel`` ('' = the whole root) of one root (a bounded walk)."""
    if kind == "rules":
        prefix = f"{rel}/" if rel else ""
        return [SourceFile(kind, root, f, domains) for f in discover_rules(root) if f.startswith(prefix)]
    top = root / rel if rel else root
    if not top.is_dir() or is_hidden(rel):
        return []
    return [SourceFile(kind, root, f) for f in walk_markdown(top, root, is_markdown, max_files, cuts)]


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
    if sf.source == "rules" and not is_rule_target(resolved.relative_to(sf.root).as_posix()):
        raise SkipFile("symlink leads to a file that is not a rule file or Markdown text (e.g. .env or a key)")
    if sf.source != "rules" and resolved != sf.root and not _standard_name(resolved.relative_to(sf.root).as_posix()):
        # A checkout's standard linked to its .git/config (the clone's token) or an .env beside it.
        raise SkipFile("symlink leads to a file that is not Markdown outside hidden folders (e.g. .git/config or .env)")
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
        raise SkipFile(f"larger than {max_bytes} bytes{TOO_LARGE_FIX}")
    if b"\x00" in data:
        raise SkipFile("binary content")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkipFile(
            f"invalid UTF-8 at byte {exc.start}: save it as UTF-8 (e.g. iconv -f latin1 -t utf-8 FILE > FILE.new)"
        ) from exc
    digest = hashlib.sha256(salt.encode())
    digest.update(b"\x00")
    digest.update(data)
    return ReadResult(text=text, content_hash=digest.hexdigest())


def _standard_name(rel: str) -> bool:
    return is_markdown(PurePosixPath(rel).name) and not is_hidden(rel)


def safe_resolve(sources: list[StandardsSource], file: str, source: str | None) -> Path:
    """Absolute path of ``file`` inside a root; refuses anything that escapes its root.

    With ``source`` None, roots are tried in precedence order (project, shared, universal); the
    rules source (the project root) only serves rule files and only when asked for by name.
    """
    rel = PurePosixPath(file.replace("\\", "/"))
    if not file or rel.is_absolute() or ".." in rel.parts or Path(file).is_absolute():
        raise ValueError(f"not a path inside the standards folders: {file!r}")
    roots = resolved_roots(sources)
    if source is not None:
        roots = [(k, r) for k, r in roots if k == source]
        if not roots:
            raise ValueError(f"unknown standards source: {source!r}")
        if source == "rules" and not is_rule_file(rel.as_posix()):
            raise ValueError(f"not a rule file: {file!r}")
    else:
        order = ("project", "shared", "universal")
        roots = sorted((kr for kr in roots if kr[0] in order), key=lambda kr: order.index(kr[0]))
    if source != "rules" and not _standard_name(rel.as_posix()):
        # Only what the index holds: a standards folder that is a checkout (or the project root) keeps
        # .git/config (a remote URL with a token), .env and the like beside the Markdown.
        raise ValueError(f"not a standard: {file!r} (standards are Markdown files outside hidden folders)")
    for kind, root in roots:
        candidate = root.joinpath(*rel.parts)
        if not candidate.exists():
            continue
        resolved = candidate.resolve()
        if resolved != root and root not in resolved.parents:
            raise ValueError(f"path leads outside the standards folders: {file!r}")
        if kind == "rules" and not is_rule_target(resolved.relative_to(root).as_posix()):
            raise ValueError(f"not a rule file: {file!r} is a symlink to a file that is not Markdown text")
        if kind != "rules" and resolved != root and not _standard_name(resolved.relative_to(root).as_posix()):
            raise ValueError(f"not a standard: {file!r} is a symlink to a file that is not Markdown text")
        return resolved
    raise FileNotFoundError(f"no standard named {file!r}")


def resolve_changes(
    sources: list[StandardsSource], paths: list[Path], known: set[str], *, max_files: int = DEFAULT_MAX_FILES
) -> tuple[list[SourceFile], list[str], set[Path]]:
    """Map changed paths (files or folders, existing or gone) to work for the indexer.

    Returns the files to (re)index, the known doc keys to drop, and the folders to watch.
    """
    files: dict[str, SourceFile] = {}
    removed: set[str] = set()
    roots: set[Path] = set()
    domains = rule_domains(sources)
    for path in paths:
        for kind, root, rel in locate(sources, path):
            if kind == "rules":
                _rule_change(root, rel, domains, known, files, removed, roots)
                continue
            roots.add(root)
            if is_hidden(rel):
                continue
            target = root / rel if rel else root
            if target.is_dir() and not target.is_symlink():
                prefix = f"{kind}:{rel}/" if rel else f"{kind}:"
                inside = {
                    f.key: f
                    for f in discover_under(kind, root, rel, max_files=max_files)
                    if _first_root(sources, f) == root
                }
                files.update(inside)
                removed.update(k for k in known if k.startswith(prefix) and k not in inside)
            elif is_markdown(target.name):
                winner = _first_root(sources, SourceFile(kind, root, rel))
                if winner is None:
                    removed.add(doc_key(kind, rel))
                elif winner == root or not os.path.lexists(target):
                    sf = SourceFile(kind, winner, rel)
                    files[sf.key] = sf
            else:  # a vanished folder, or a non-Markdown file
                removed.update(k for k in known if k.startswith(f"{kind}:{rel}/"))
    for key in list(files):
        removed.discard(key)
    return list(files.values()), sorted(removed & known), roots


def _first_root(sources: list[StandardsSource], sf: SourceFile) -> Path | None:
    """Of the roots of ``sf``'s kind, the first that holds ``sf.file`` (None: none does)."""
    for kind, root in resolved_roots(sources):
        if kind == sf.source and os.path.lexists(root / sf.file):
            return root
    return None


def _rule_change(  # noqa: PLR0917 (a private helper of resolve_changes, sharing its accumulators)
    root: Path,
    rel: str,
    domains: tuple[tuple[str, str], ...],
    known: set[str],
    files: dict[str, SourceFile],
    removed: set[str],
    roots: set[Path],
) -> None:
    """A change under the project root, as seen by the rules source."""
    top = PurePosixPath(rel).parts[0] if rel else ""
    if top in (".cursor", ".github") and (root / top).is_dir():
        roots.add(root / top)  # created after start: watch it
    target = root / rel if rel else root
    if target.is_dir() and not target.is_symlink():
        if rel and not (is_rule_file(f"{rel}/AGENTS.md") or top in (".cursor", ".github")):
            return  # a folder no rule file can live in (hidden, node_modules, ...)
        inside = {f.key: f for f in discover_under("rules", root, rel, domains)}
        files.update(inside)
        roots.update((root / f.file).parent for f in inside.values() if "/" in f.file and not f.file.startswith("."))
        prefix = f"rules:{rel}/" if rel else "rules:"
        removed.update(k for k in known if k.startswith(prefix) and k not in inside)
    elif is_rule_file(rel):
        if os.path.lexists(target):
            sf = SourceFile("rules", root, rel, domains)
            files[sf.key] = sf
        else:
            removed.add(doc_key("rules", rel))
    elif rel:
        removed.update(k for k in known if k.startswith(f"rules:{rel}/"))


def watch_targets(sources: list[StandardsSource]) -> list[tuple[Path, bool]]:
    """(folder, recursive) to watch: every standards root; for the rules source the project root
    itself (not recursively), its .cursor and .github folders, and each folder holding a nested
    AGENTS.md (one created later in a new folder is found at the next start)."""
    targets: list[tuple[Path, bool]] = []
    for kind, root in resolved_roots(sources):
        if kind != "rules":
            targets.append((root, True))
            continue
        targets.append((root, False))
        targets.extend((root / top, True) for top in (".cursor", ".github") if (root / top).is_dir())
        targets.extend(
            ((root / f).parent, False)
            for f in discover_rules(root)
            if "/" in f and not f.startswith((".cursor", ".github"))
        )
    return list(dict.fromkeys(targets))


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
