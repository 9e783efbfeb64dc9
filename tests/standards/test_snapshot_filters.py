"""The in-memory copy's filters over integer codes answer exactly as over the strings, and a filter's
mask is kept (read only, bounded): a search asks for it twice, and a server's searches mostly share
one filter (the overridden docs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from standards.index.snapshot import MAX_MASKS, Codes, snapshot_from_rows

DIMS = 16


def rows_of(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"c{i}",
            "doc": f"{'universal' if i % 5 == 0 else 'project'}:d{i // 3}.md",
            "source": "universal" if i % 5 == 0 else "project",
            "file": f"d{i // 3}.md",
            "domain": ("security", "testing", "api")[i % 3],
            "paths": [],
            "heading_path": ["T"],
            "tags": ["vault"] if i % 4 == 0 else [],
            "text": f"chunk {i}",
            "tags_key": "|vault|" if i % 4 == 0 else "|",
            "search_text": f"chunk {i} {'rotate keys' if i % 2 else 'logging errors'}",
        }
        for i in range(count)
    ]


def string_mask(rows: list[dict[str, Any]], domain: Any, source: Any, tags: Any, exclude: list[str]) -> Any:
    """The filter as the strings say it (None: no filter at all)."""
    if domain is None and source is None and not tags and not exclude:
        return None
    return np.array(
        [
            (domain is None or r["domain"] == domain)
            and (source is None or r["source"] == source)
            and all(f"|{t}|" in r["tags_key"] for t in tags)
            and r["doc"] not in exclude
            for r in rows
        ]
    )


def test_codes_isin_is_isin_over_the_strings() -> None:
    values = ["a", "b", "a", "c", "b", "a"]
    codes = Codes(values)
    for wanted in [[], ["a"], ["b", "c"], ["zzz"], ["zzz", "c"], ["a", "b", "c"]]:
        assert codes.isin(wanted).tolist() == np.isin(np.asarray(values, dtype=object), wanted).tolist()
    assert Codes([]).isin(["a"]).tolist() == []


def test_masks_are_the_filters_over_the_strings_kept_read_only_and_bounded() -> None:
    rows = rows_of(60)
    snapshot = snapshot_from_rows(1, rows, [[1.0] * DIMS] * len(rows))
    filters: list[tuple[Any, Any, tuple[str, ...], list[str]]] = [
        (None, None, (), []),
        ("security", None, (), []),
        (None, "universal", (), []),
        (None, None, ("vault",), []),
        ("api", "project", ("vault",), ["project:d1.md", "universal:d5.md"]),
        (None, None, (), ["project:d2.md", "nowhere:x.md"]),
        ("no-such-domain", None, (), []),
    ]
    for domain, source, tags, exclude in filters:
        got = snapshot.mask(domain, source, tags, exclude)
        want = string_mask(rows, domain, source, tags, exclude)
        if want is None:
            assert got is None
            continue
        assert got is not None and got.tolist() == want.tolist()
        assert snapshot.mask(domain, source, tags, list(exclude)) is got  # kept: a search asks twice
        with pytest.raises(ValueError, match="read-only"):
            got[0] = not got[0]
    for n in range(MAX_MASKS + 5):  # many different filters: still right, never more than the bound kept
        exclude = [f"project:d{n}.md"]
        got = snapshot.mask(None, None, (), exclude)
        assert got is not None and got.tolist() == string_mask(rows, None, None, (), exclude).tolist()
    assert len(snapshot._masks) <= MAX_MASKS
