"""Bounded, linear-time glob matching over project-relative POSIX paths (``list_files``).

Syntax: ``*`` and ``?`` stay within one folder name, ``[...]``/``[!...]`` are character
classes, a whole ``**`` segment spans any number of folders (``src/**/*.py``, ``api/**``),
``{a,b}`` gives alternatives. ``**`` inside a name (``**.py``) means ``*``.

A pattern is split at ``/`` and each segment is matched against one folder name with
:func:`fnmatch.fnmatchcase` (whose regexes do not backtrack catastrophically), and the ``**``
segments by dynamic programming over (pattern segment, path segment): the work per path is
at most segments × folders, whatever the pattern. Pattern length and brace expansion are
bounded; a pattern that breaks a bound or is malformed raises :class:`GlobError`, whose
message is written for the model.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

MAX_PATTERN_CHARS = 300
MAX_ALTERNATIVES = 32
MAX_SEGMENTS = 32

_BRACE = re.compile(r"\{([^{}]*)\}")
_CLASS = re.compile(r"\[(!?)(\]?[^\]]*)\]")


class GlobError(ValueError):
    """The pattern cannot be used; the message says why and what to write instead."""


@dataclass(frozen=True)
class Glob:
    """A compiled pattern: the segment lists of its brace alternatives."""

    pattern: str
    alternatives: tuple[tuple[str, ...], ...]

    def match(self, path: str) -> bool:
        """Does the project-relative POSIX ``path`` match?"""
        parts = path.split("/")
        return any(_match_segments(alt, parts) for alt in self.alternatives)


def compile_glob(pattern: str) -> Glob:
    """Check and compile ``pattern``; raises :class:`GlobError`."""
    value = pattern.replace("\\", "/")
    if len(value) > MAX_PATTERN_CHARS:
        raise GlobError(f"The pattern is {len(value)} characters long; the limit is {MAX_PATTERN_CHARS}.")
    alternatives = _expand_braces(value)
    compiled: list[tuple[str, ...]] = []
    for alternative in alternatives:
        segments = _segments(alternative)
        for segment in segments:
            _check_classes(segment, pattern)
        if segments not in compiled:
            compiled.append(segments)
    return Glob(pattern, tuple(compiled))


def _expand_braces(pattern: str) -> list[str]:
    """Expand ``{a,b}`` groups breadth-first, refusing before the count passes MAX_ALTERNATIVES."""
    done: list[str] = []
    todo = [pattern]
    while todo:
        current = todo.pop()
        match = next((m for m in _BRACE.finditer(current) if "," in m.group(1)), None)
        if match is None:
            done.append(current)
        else:
            head, tail = current[: match.start()], current[match.end() :]
            todo.extend(head + option + tail for option in match.group(1).split(","))
        if len(done) + len(todo) > MAX_ALTERNATIVES:
            raise GlobError(
                f"The pattern expands to more than {MAX_ALTERNATIVES} alternatives ({{a,b}} groups multiply); "
                "use fewer {…} groups, or list the folders one call at a time."
            )
    return sorted(set(done))


def _segments(pattern: str) -> tuple[str, ...]:
    raw = [s for s in pattern.split("/") if s not in ("", ".")]
    if not raw:
        raise GlobError(f"The pattern {pattern!r} names no files; try '**/*'.")
    segments: list[str] = []
    for part in raw:
        if part == "**" and segments and segments[-1] == "**":
            continue  # '**/**' is '**'
        segments.append(part if part == "**" else re.sub(r"\*{2,}", "*", part))
    if len(segments) > MAX_SEGMENTS:
        raise GlobError(f"The pattern has more than {MAX_SEGMENTS} folder levels; shorten it.")
    return tuple(segments)


def _check_classes(segment: str, pattern: str) -> None:
    for match in _CLASS.finditer(segment):
        body = match.group(2)
        for start, end in re.findall(r"(.)-(.)", body):
            if start > end:
                raise GlobError(
                    f"The pattern {pattern!r} has an invalid character range '{start}-{end}' (the start comes "
                    f"after the end); write '[{end}-{start}]'."
                )


def _match_segments(pattern: tuple[str, ...], parts: list[str]) -> bool:
    """Segment-wise match with ``**`` spanning zero or more parts, in O(len(pattern) × len(parts))."""
    n = len(parts)
    # reachable[j]: the pattern so far can consume exactly parts[:j]
    reachable = [True] + [False] * n
    for segment in pattern:
        nxt = [False] * (n + 1)
        if segment == "**":
            seen = False
            for j in range(n + 1):
                seen = seen or reachable[j]
                nxt[j] = seen
        else:
            for j in range(n):
                if reachable[j] and fnmatch.fnmatchcase(parts[j], segment):
                    nxt[j + 1] = True
        reachable = nxt
        if not any(reachable):
            return False
    return reachable[n]
