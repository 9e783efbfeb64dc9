"""Search helpers: input validation, reciprocal rank fusion, and the result cache."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable

from standards.frontmatter import normalize_tag
from standards.index.models import SOURCE_KINDS, SearchHit, SearchMode
from standards.index.ranking import RRF_K, fts_query_text, fuse, rank, vector_hits

__all__ = [
    "RRF_K",
    "ResultCache",
    "apply_path_scope",
    "fts_query_text",
    "fuse",
    "rank",
    "validate_filters",
    "validate_query",
    "vector_hits",
]
MAX_QUERY_CHARS = 2000
MAX_LIMIT = 50
_FILTER_VALUE = re.compile(r"^[\w .+#/@&-]{1,100}$")
_FTS_WORD = re.compile(r"\w+")


#: Tags one search may filter by (a hit must carry every one of them).
MAX_TAGS = 20


def validate_query(query: str) -> str:
    """Strip the query; reject an empty one."""
    if not isinstance(query, str) or not query.strip():
        raise ValueError("query must not be empty")
    return query.strip()[:MAX_QUERY_CHARS]


def validate_filters(
    domain: str | None, tags: list[str] | None, source: str | None, limit: int
) -> tuple[str | None, tuple[str, ...], str | None]:
    """Check filter values before they reach the index; returns normalised values."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    if source is not None and source not in SOURCE_KINDS:
        raise ValueError(f"source must be one of {', '.join(repr(k) for k in SOURCE_KINDS)}")
    if domain is not None and not _FILTER_VALUE.match(domain):
        raise ValueError(f"invalid domain filter: {domain!r}")
    if tags is not None and len(tags) > MAX_TAGS:
        # before anything per tag: a request of 400,000 tags held the event loop for minutes
        raise ValueError(
            f"tags takes at most {MAX_TAGS} tags (a result must carry all of them), got {len(tags):,}; "
            "filter by fewer tags, or by domain"
        )
    clean_tags: dict[str, None] = {}
    for tag in tags or []:
        value = (normalize_tag(tag) or "") if isinstance(tag, str) else ""
        if not _FILTER_VALUE.match(value):
            raise ValueError(f"invalid tag filter: {str(tag)[:80]!r}")
        clean_tags[value] = None
    return domain, tuple(clean_tags), source


def apply_path_scope(
    ranked: list[tuple[str, SearchHit]], matching: set[str], overrides: dict[str, list[str]], limit: int
) -> list[tuple[str, SearchHit]]:
    """Path scoping and precedence on ranked hits (scoped-elsewhere and overridden files are already
    filtered out by the query): the best hits of files scoped to the given paths move to the top (at
    most half the places, so one long rule file cannot crowd out the rest), then the others in their
    order; each winning hit names the files it overrides."""
    quota = max(1, (limit + 1) // 2)
    first = [pair for pair in ranked if pair[0] in matching][:quota]
    lifted = {id(pair) for pair in first}
    ordered = first + [pair for pair in ranked if id(pair) not in lifted]
    out: list[tuple[str, SearchHit]] = []
    for doc, hit in ordered[:limit]:
        hidden = overrides.get(doc)
        out.append((doc, hit.model_copy(update={"overrides": list(hidden)}) if hidden else hit))
    return out


CacheKey = tuple[str, str | None, tuple[str, ...], str | None, int, SearchMode, tuple[str, ...], tuple[str, ...]]


class ResultCache:
    """LRU of search results, tagged with the table version they were computed on."""

    def __init__(self, max_entries: int = 512, *, on_clear: Callable[[], None] | None = None) -> None:
        self._max = max_entries
        self._entries: OrderedDict[CacheKey, tuple[list[SearchHit], list[str]]] = OrderedDict()
        self._version: int | None = None
        self._on_clear = on_clear

    def check_version(self, version: int | None) -> None:
        """Drop everything if the index changed since the entries were stored."""
        if version != self._version:
            self._entries.clear()
            self._version = version

    def clear(self) -> None:
        """Forget everything (also what ``on_clear`` keeps, e.g. the in-memory vectors)."""
        self._entries.clear()
        self._version = None
        if self._on_clear is not None:
            self._on_clear()

    def get(self, key: CacheKey) -> tuple[list[SearchHit], list[str]] | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: CacheKey, value: tuple[list[SearchHit], list[str]], version: int | None) -> None:
        if version != self._version:
            return  # computed on an older version: do not cache
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
