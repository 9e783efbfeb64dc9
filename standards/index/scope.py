"""Path scopes and source precedence (pure functions, no I/O).

A standard may govern only some project paths: globs from its front matter (``paths:``),
a Cursor rule's ``globs``, a Copilot instruction file's ``applyTo``, or the folder of a
nested ``AGENTS.md``. Globs are matched with :mod:`wcmatch` (``**`` spans folders, ``{a,b}``
alternatives, and a pattern without ``/`` matches the file name at any depth, as the tools
that write these files do).

When two sources hold the same ``<domain>/<topic>.md`` the strongest wins
(project > shared > universal) and the others are hidden from searches.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from wcmatch import glob

from standards.index.models import PRECEDENCE

GLOB_FLAGS = glob.GLOBSTAR | glob.BRACE | glob.DOTGLOB | glob.MATCHBASE
MAX_GLOBS = 50
MAX_GLOB_CHARS = 300
MAX_QUERY_PATHS = 200
MAX_QUERY_PATH_CHARS = 1000
#: Distinct ``paths`` arguments whose scoping is remembered per index version.
SCOPE_CACHE = 256
#: Scopes that mean "the whole project" (Copilot's applyTo: '**').
_EVERYWHERE = {"**", "**/*", "*"}


def _split_top_level(value: str) -> list[str]:
    """Split Cursor's comma-separated ``globs`` on commas outside ``{…}`` (one linear pass)."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, char in enumerate(value):
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return parts


class ScopeError(ValueError):
    """A file declares a path scope of which nothing is usable (the file is skipped, not made unscoped)."""


def normalize_globs(value: object) -> tuple[list[str], list[str]]:
    """Front matter value (list, or comma-separated string) → (clean globs, warnings).

    Globs are project-relative POSIX patterns; absolute ones and ones with ``..`` are dropped with a
    warning. A scope that covers everything (``**``) is returned as ``[]`` (unscoped). A declared
    scope with no usable glob left raises :class:`ScopeError`.
    """
    if value is None or value == "":
        return [], []
    if isinstance(value, str):
        items: list[object] = list(_split_top_level(value))  # 'src/**/*.{ts,tsx}, api/**': 2 globs
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return [], [f"path scope ignored: expected a list of globs, got {type(value).__name__}"]
    globs: list[str] = []
    warnings: list[str] = []
    declared = 0
    for item in items:
        if not isinstance(item, str):
            warnings.append(f"path scope entry ignored: {item!r} is not a string")
            declared += 1
            continue
        pattern = item.strip().strip("'\"").strip().replace("\\", "/")
        while pattern.startswith("./"):
            pattern = pattern[2:]
        if not pattern:
            continue
        declared += 1
        if len(pattern) > MAX_GLOB_CHARS or pattern.startswith("/") or ".." in PurePosixPath(pattern).parts:
            warnings.append(f"path scope entry ignored: {pattern[:80]!r} must be a relative glob inside the project")
            continue
        problem = None if pattern in globs else _compile_problem([*globs, pattern])
        if problem is not None:
            warnings.append(f"path scope entry ignored: {pattern[:80]!r} {problem}")
            continue
        if pattern not in globs:
            globs.append(pattern)
    if declared and not globs:  # a scope was declared but none of it is usable: never widen it to everything
        raise ScopeError("no usable glob in its path scope (" + "; ".join(warnings)[:300] + "); fix the globs")
    if len(globs) > MAX_GLOBS:
        warnings.append(f"path scope cut to its first {MAX_GLOBS} globs")
        globs = globs[:MAX_GLOBS]
    if any(g in _EVERYWHERE for g in globs):
        return [], warnings
    return globs, warnings


def _compile_problem(patterns: list[str]) -> str | None:
    """Why these globs cannot be matched together (e.g. braces expanding past the matcher's limit, which
    counts all of a scope's patterns), or None. One such scope in the index made every scoped search fail."""
    try:
        glob.compile(patterns, flags=GLOB_FLAGS)
    except Exception as exc:  # wcmatch's PatternLimitException, bracex's ExpansionLimitException, bad syntax
        return f"cannot be used ({exc}); write fewer brace alternatives"
    return None


def folder_scope(folder: str) -> list[str]:
    """The scope of a rule file that governs its folder (a nested AGENTS.md)."""
    return [f"{folder.rstrip('/')}/**"] if folder not in ("", ".") else []


def path_matches(globs: Iterable[str], path: str) -> bool:
    """True if the project-relative ``path`` is governed by any of ``globs``."""
    return bool(matcher(tuple(globs)).match(path))


@functools.lru_cache(maxsize=4096)
def matcher(globs: tuple[str, ...]) -> Any:
    """One compiled matcher for a scope (compiling is most of the cost of a match)."""
    try:
        return glob.compile(list(globs), flags=GLOB_FLAGS)
    except Exception:  # a scope indexed before normalize_globs bounded it: match with what compiles
        kept: list[str] = []
        for pattern in globs:
            if _compile_problem([*kept, pattern]) is None:
                kept.append(pattern)
        return glob.compile(kept, flags=GLOB_FLAGS)


def validate_paths(paths: list[str] | None) -> tuple[str, ...]:
    """The ``paths`` argument of a search as clean project-relative POSIX paths (``()`` = no scoping)."""
    if paths is None:
        return ()
    if not isinstance(paths, list | tuple):
        raise ValueError("paths must be a list of project-relative file paths")
    if len(paths) > MAX_QUERY_PATHS:
        raise ValueError(f"paths takes at most {MAX_QUERY_PATHS} entries, got {len(paths)}")
    clean: list[str] = []
    for raw in paths:
        if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_QUERY_PATH_CHARS:
            raise ValueError(f"invalid path in paths: {str(raw)[:80]!r} (give project-relative file paths)")
        value = raw.strip().replace("\\", "/")
        while value.startswith("./"):
            value = value[2:]
        if value.startswith("/") or ".." in PurePosixPath(value).parts:
            raise ValueError(f"invalid path in paths: {value[:80]!r} must be relative to the project root")
        if value and value not in clean:
            clean.append(value)
    return tuple(sorted(clean))


#: Doc keys a search may be told to leave out (a reviewed change's own standards and rule files:
#: two keys for each of its files, at most 5,000 files).
MAX_UNACCEPTED = 10_000


def validate_unaccepted(docs: Iterable[str] | None) -> frozenset[str]:
    """The doc keys (``source:file``) a search leaves out, checked and bounded."""
    out = frozenset(docs or ())
    if len(out) > MAX_UNACCEPTED:
        raise ValueError(f"unaccepted names {len(out):,} documents; at most {MAX_UNACCEPTED:,} may be left out")
    if any(not isinstance(doc, str) or len(doc) > MAX_QUERY_PATH_CHARS + 20 for doc in out):
        raise ValueError(
            f"unaccepted: each entry is a document key ('project:security/x.md') of at most "
            f"{MAX_QUERY_PATH_CHARS + 20} characters"
        )
    return out


@dataclass(frozen=True)
class DocScope:
    """What precedence and scoping need to know of one indexed file."""

    doc: str
    source: str
    file: str
    paths: tuple[str, ...] = ()


@dataclass
class SourceView:
    """Precedence and scopes over every indexed file (built from the index manifest)."""

    overridden_by: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, list[str]] = field(default_factory=dict)
    scoped: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Every indexed doc, and each group of docs with the same ``<domain>/<topic>.md``, strongest first.
    docs: frozenset[str] = frozenset()
    groups: list[list[str]] = field(default_factory=list)
    _folded: dict[str, list[str]] = field(default_factory=dict)
    _governing: OrderedDict[tuple[str, ...], frozenset[str]] = field(default_factory=OrderedDict)

    @classmethod
    def build(cls, docs: Iterable[DocScope]) -> SourceView:
        view = cls()
        by_file: dict[str, list[DocScope]] = {}
        known: set[str] = set()
        for d in docs:
            known.add(d.doc)
            if d.paths:
                view.scoped[d.doc] = d.paths
            if d.source in PRECEDENCE:
                by_file.setdefault(d.file, []).append(d)
        for group in by_file.values():
            if len(group) < 2:
                continue
            group.sort(key=lambda d: PRECEDENCE.index(d.source))
            winner = group[0]
            for loser in group[1:]:
                view.overridden_by[loser.doc] = winner.doc
            view.overrides[winner.doc] = [loser.doc for loser in group[1:]]
            view.groups.append([d.doc for d in group])
        view.docs = frozenset(known)
        return view

    def known(self, docs: Iterable[str]) -> tuple[str, ...]:
        """The indexed docs named by ``docs`` in any letter case (on macOS's and Windows' file systems a
        change's 'Security/X.md' is the indexed 'security/x.md'), sorted: a search's cache key and
        filter stay small."""
        if not self._folded and self.docs:
            for doc in self.docs:
                self._folded.setdefault(doc.casefold(), []).append(doc)
        return tuple(sorted({d for doc in docs for d in self._folded.get(doc.casefold(), ())}))

    def overrides_without(self, unaccepted: tuple[str, ...]) -> dict[str, list[str]]:
        """:attr:`overrides` as if the ``unaccepted`` docs were not indexed: a weaker source's copy of
        a file they would have overridden wins again."""
        if not unaccepted:
            return self.overrides
        out: dict[str, list[str]] = {}
        for group in self.groups:
            kept = [doc for doc in group if doc not in unaccepted]
            if len(kept) > 1:
                out[kept[0]] = kept[1:]
        return out

    def excluded(self, paths: tuple[str, ...], unaccepted: tuple[str, ...] = ()) -> list[str]:
        """Docs a search must not return: overridden ones and, with ``paths``, those scoped elsewhere;
        the ``unaccepted`` ones (a reviewed change's own standards), which override nothing."""
        out = set(self.overridden_by)
        if unaccepted:
            out = set(unaccepted)
            for losers in self.overrides_without(unaccepted).values():
                out.update(losers)
        if paths:
            governing = self.matching(paths)
            out.update(doc for doc in self.scoped if doc not in governing)
        return sorted(out)

    def matching(self, paths: tuple[str, ...]) -> set[str]:
        """Scoped docs that govern at least one of ``paths`` (ranked up); remembered per ``paths``."""
        if not paths:
            return set()
        found = self._governing.get(paths)
        if found is None:
            found = frozenset(doc for doc, globs in self.scoped.items() if any(matcher(globs).match(p) for p in paths))
            self._governing[paths] = found
            if len(self._governing) > SCOPE_CACHE:
                self._governing.popitem(last=False)
        else:
            self._governing.move_to_end(paths)
        return set(found)
