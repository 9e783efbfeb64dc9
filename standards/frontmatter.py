"""The one front-matter parser and tag normaliser, for every file kind (personas, standards,
proposals, imports, rule files).

A document may start with a ``---`` line, YAML, and a closing ``---`` (or ``...``) line. The
YAML is read with a hardened safe loader:

* the block is at most :data:`MAX_FRONT_MATTER_BYTES` bytes (checked before any parsing),
* aliases (``*name``, including ``<<: *name`` merges) are refused, so an alias bomb cannot
  expand (a few hundred bytes of nested aliases would otherwise build millions of nodes),
* nesting is at most :data:`MAX_DEPTH` levels (no recursion blow-up from ``[[[[…``),
* only plain YAML types are built (safe loader: no Python objects).
* no integer is too long to print (hex, octal and base-60 ones skip Python's digit limit when read).

With libyaml (PyYAML's wheels ship it) the block is first read as an event stream in C, which
refuses aliases and deep nesting before anything is built, and then loaded by the C safe loader:
~5x faster than the pure-Python loader (front matter is parsed for every standard indexed and every
persona at start). Without libyaml the pure-Python loader applies the same checks while composing.

Parsing is pure CPU work on at most a few KiB; async callers still run it through
``asyncio.to_thread`` together with the file I/O around it.

:func:`parse` is lenient (malformed front matter gives empty metadata and an ``error``; a
closed block is still removed from the body so raw YAML is never embedded); :func:`split` is
strict (raises :class:`FrontMatterError`). :func:`normalize_tags` is the one tag normal form:
lower case, surrounding space trimmed, inner whitespace collapsed to one space; a string is a
comma-separated list. Writers and the index use it alike, so an approved tag ``Auth Tokens``
is written and indexed as ``auth tokens``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, NodeEvent
from yaml.nodes import Node

#: Largest front-matter block (UTF-8 bytes between the fences) that is parsed at all.
MAX_FRONT_MATTER_BYTES = 16 * 1024
#: Deepest nesting of lists/mappings accepted.
MAX_DEPTH = 20
#: Longest tag kept (longer ones are dropped); at most this many tags per document.
MAX_TAG_CHARS = 100
MAX_TAGS = 50

_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t\r]*(?:\n|\Z)", re.MULTILINE)
_SPACE = re.compile(r"\s+")


#: What to do about front matter that is ignored (the text below it is still used).
FIX_HINT = "fix the YAML between the '---' lines (the text below them is used meanwhile)"


class FrontMatterError(ValueError):
    """The front matter cannot be used; the message says why and how to fix it."""


class _BoundedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases and deep nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ComposerError(
                None, None, f"YAML aliases (*{event.anchor}) are not allowed in front matter", event.start_mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, f"front matter is nested deeper than {MAX_DEPTH} levels", None)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


@dataclass(frozen=True)
class FrontMatter:
    """``meta`` (empty when there is none or it is malformed), the ``body`` after it, and
    ``error``: why the front matter was ignored, or None."""

    meta: dict[str, Any]
    body: str
    error: str | None = None


def load_yaml(raw: str, first_line: int = 1) -> dict[str, Any]:
    """Parse one front-matter block (the text between the fences) into a mapping; ``first_line`` is
    the file's line number of the block's first line (errors name the file's lines).

    Raises :class:`FrontMatterError` for an oversized block, aliases, deep nesting, invalid
    YAML, or a value that is not a mapping.
    """
    size = len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_FRONT_MATTER_BYTES:
        raise FrontMatterError(
            f"front matter is {size:,} bytes, over the {MAX_FRONT_MATTER_BYTES:,}-byte limit; "
            "move long text into the body"
        )
    if not raw.strip():
        return {}
    try:
        data = _load_bounded(raw)
        _refuse_unprintable_ints(data)
    except yaml.MarkedYAMLError as exc:
        raise FrontMatterError(_located(exc, first_line)) from exc
    except yaml.YAMLError as exc:
        raise FrontMatterError(_first_line(str(exc))) from exc
    except (ValueError, RecursionError) as exc:  # e.g. an integer over Python's digit limit
        raise FrontMatterError(f"invalid YAML value: {_first_line(str(exc))}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FrontMatterError("not a mapping: front matter must be a YAML mapping of keys to values")
    return {str(k): v for k, v in data.items()}


def _refuse_unprintable_ints(value: Any) -> None:
    """Raise ValueError for an integer too long to turn into text (Python's digit limit). Hex, octal and
    base-60 integers are read without that limit, and would fail later, wherever they are printed
    (a tag, a title, a key). Walks at most :data:`MAX_DEPTH` levels (the loader's bound)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_unprintable_ints(key)
            _refuse_unprintable_ints(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _refuse_unprintable_ints(item)
    elif isinstance(value, int):
        str(value)


def _load_bounded(raw: str) -> Any:
    """The YAML of ``raw``, refusing aliases and nesting deeper than :data:`MAX_DEPTH` (ComposerError)."""
    if not yaml.__with_libyaml__:
        loader = _BoundedSafeLoader(raw)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    too_deep = f"front matter is nested deeper than {MAX_DEPTH} levels"
    open_collections = 0
    try:
        for event in yaml.parse(raw, Loader=yaml.CSafeLoader):  # iterative in C: no recursion, nothing built
            if isinstance(event, AliasEvent):
                raise ComposerError(None, None, f"YAML aliases (*{event.anchor}) are not allowed in front matter", None)
            if isinstance(event, NodeEvent) and open_collections + 1 > MAX_DEPTH:  # a node at this level
                raise ComposerError(None, None, too_deep, None)
            if isinstance(event, CollectionStartEvent):
                open_collections += 1
            elif isinstance(event, CollectionEndEvent):
                open_collections -= 1
    except yaml.MarkedYAMLError as exc:
        if exc.problem == "exceeded maximum nesting depth":  # libyaml's own cap, met while scanning ahead
            raise ComposerError(None, None, too_deep, None) from exc
        raise
    return yaml.load(raw, Loader=yaml.CSafeLoader)


def parse(text: str) -> FrontMatter:
    """Split front matter from the body, leniently (see the module docstring)."""
    text = text.removeprefix("\ufeff")
    first, newline, rest = text.partition("\n")
    if first.rstrip() != "---" or not newline:
        return FrontMatter({}, text, None)
    end = _closing_fence(rest)
    if end is None:
        return FrontMatter({}, text, "malformed front matter ignored: no closing '---' line")
    raw, body = rest[: end[0]], rest[end[1] :]
    try:
        return FrontMatter(load_yaml(raw, first_line=2), body, None)
    except FrontMatterError as exc:
        return FrontMatter({}, body, f"malformed front matter ignored: {exc}; {FIX_HINT}")


def split(text: str) -> tuple[dict[str, Any], str]:
    """(metadata, body); raises :class:`FrontMatterError` when front matter is present but unusable."""
    parsed = parse(text)
    if parsed.error:
        reason = parsed.error.removeprefix("malformed front matter ignored: ").removesuffix(f"; {FIX_HINT}")
        raise FrontMatterError(f"the front matter is not valid YAML ({reason}); fix it or remove it")
    return parsed.meta, parsed.body


def _closing_fence(rest: str) -> tuple[int, int] | None:
    """(end of the YAML, start of the body) in ``rest``, or None (one linear regex scan)."""
    match = _CLOSE.search(rest)
    return (match.start(), match.end()) if match else None


def _located(exc: yaml.MarkedYAMLError, first_line: int) -> str:
    """The parser's problem and context with the file's line of each ("expected ',' or ']', but got
    '<stream end>' at line 4; while parsing a flow sequence started at line 2")."""
    parts = []
    for text, mark, verb in ((exc.problem, exc.problem_mark, "at"), (exc.context, exc.context_mark, "started at")):
        if text:
            parts.append(_first_line(text) + (f" {verb} line {mark.line + first_line}" if mark is not None else ""))
    return "; ".join(parts) or _first_line(str(exc))


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "invalid YAML"


def normalize_tag(value: object) -> str | None:
    """One tag in normal form (lower case, single spaces), or None when it is not a usable tag
    (empty, not text or a number, containing '|' or a control character, or too long)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value)
    if "|" in text or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text):
        return None
    tag = _SPACE.sub(" ", text).strip().lower()
    return tag if tag and len(tag) <= MAX_TAG_CHARS else None


def normalize_tags(value: object) -> list[str]:
    """Front matter ``tags`` (a list, or a comma-separated string) → unique tags in normal form."""
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return []
    tags: list[str] = []
    for item in items:
        tag = normalize_tag(item)
        if tag is not None and tag not in tags:
            tags.append(tag)
        if len(tags) >= MAX_TAGS:
            break
    return tags


def dump(meta: dict[str, Any]) -> str:
    """The front-matter block for ``meta`` (fences included), keys in the given order."""
    header = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, default_flow_style=None, width=1000)
    return f"---\n{header}---\n"
