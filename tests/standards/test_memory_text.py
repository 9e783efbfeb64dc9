"""The in-memory full-text (BM25) copy answers as LanceDB's full-text index does (same chunks, same
scores, every filter), and a write is searchable at once, before the copy reloads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from standards import HashingEmbedder, IndexWriter
from standards.index.bm25_terms import text_index
from standards.index.ranking import fts_query_text
from standards.index.store import build_filter
from tests.standards.conftest import write

EXTRA = {
    "development/naming.md": "# Naming\n\n## Identifiers\n\nUse snake_case names; the API_KEY constant is read once.\n"
    "Renaming identifiers is done by the refactoring tools, never by hand.\n",
    "operations/cafes.md": "# Café Résumé\n\nThe naïve café résumé service logs every request it receives.\n",
    "operations/incidents.md": "# Incidents\n\n## Pages\n\nThe incident commander pages the on-call engineer; "
    "logged errors are reviewed after every incident.\n",
}
QUERIES = [
    "rotate credentials vault",
    "rotating the credentials",  # stemming
    "how should we handle logging of errors",  # stop words, stems
    "unit tests without a network",
    "snake case api key identifier",  # underscores split words
    "cafe resume",  # ASCII folding
    "what is it",  # stop words only: no match
    "zzzunknownword",
]
FILTERS: list[dict[str, Any]] = [
    {},
    {"domain": "operations"},
    {"source": "universal"},
    {"tags": ("vault",)},
    {"tags": ("secrets", "vault")},
    {"exclude_docs": ["project:operations/incidents.md"]},
]


@pytest.fixture
async def rich(index: IndexWriter) -> IndexWriter:
    root = index.config.sources[0].root
    paths = [write(root / rel, text) for rel, text in EXTRA.items()]
    await index.reindex_paths(paths)
    await index._wait_idle()
    return index


def scored(rows: list[dict[str, Any]]) -> list[tuple[float, str]]:
    """(score, id) best first, ties by id (the two may order equal scores differently)."""
    return sorted(((round(float(r["_score"]), 3), str(r["id"])) for r in rows), key=lambda p: (-p[0], p[1]))


async def test_same_matches_and_scores_as_lancedb_for_every_filter(rich: IndexWriter) -> None:
    store, memory = rich._store, rich._vectors
    await store.optimize()  # every row in LanceDB's full-text index, as a build leaves it
    version = await store.version()
    args: dict[str, Any] = {"domain": None, "source": None, "tags": (), "exclude_docs": []}
    assert memory.text_search(store, version, "vault", limit=5, **args) is None  # not loaded yet
    await memory.wait_loaded()
    manifest = await store.manifest()
    assert "project:operations/incidents.md" in manifest
    compared = 0
    for f in FILTERS:
        call = {**args, **f}
        where = build_filter(
            domain=call["domain"], source=call["source"], tags=list(call["tags"]), exclude_docs=call["exclude_docs"]
        )
        for query in QUERIES:
            text = fts_query_text(query)
            expected = await store.text_search(text, where, 50)
            got = memory.text_search(store, version, text, limit=50, **call)
            assert got is not None
            assert scored(got) == scored(expected), (f, query)
            assert all(set(r) >= {"file", "doc", "text", "heading_path", "paths", "tags"} for r in got)
            compared += len(expected)
    assert compared > 20  # the queries do match things


async def test_limit_keeps_the_best(rich: IndexWriter) -> None:
    store, memory = rich._store, rich._vectors
    version = await store.version()
    args: dict[str, Any] = {"domain": None, "source": None, "tags": (), "exclude_docs": []}
    memory.text_search(store, version, "x", limit=1, **args)
    await memory.wait_loaded()
    every = memory.text_search(store, version, "logs logging errors incident", limit=50, **args)
    best = memory.text_search(store, version, "logs logging errors incident", limit=2, **args)
    assert every is not None and best is not None and len(every) > 2
    assert [r["id"] for r in best] == [r["id"] for r in every[:2]]
    assert every[0]["_score"] >= every[1]["_score"] >= every[-1]["_score"] > 0


def test_empty_text_index_matches_nothing() -> None:
    assert text_index([]).scores("anything") is None
    assert text_index(["the rotation of keys"]).scores("the of") is None


async def test_a_new_file_is_found_by_full_text_before_the_copy_reloads(
    index: IndexWriter, embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, memory = index._store, index._vectors
    calls: list[str] = []
    lancedb_text_search = store.text_search

    async def spy(text: str, where: Any, limit: int) -> list[dict[str, Any]]:
        calls.append(text)
        return await lancedb_text_search(text, where, limit)

    monkeypatch.setattr(store, "text_search", spy)
    scanned = asyncio.Event()
    scanned.set()
    lancedb_scan = store.scan

    async def held_scan(columns: list[str]) -> Any:
        await scanned.wait()
        return await lancedb_scan(columns)

    monkeypatch.setattr(store, "scan", held_scan)
    await index.search("warm up the copy")
    await memory.wait_loaded()
    calls.clear()
    await index.search("vault credentials")
    assert calls == []  # answered from memory
    root = index.config.sources[0].root
    path = write(root / "operations" / "pagers.md", "# Pager Duty\n\nThe zebracorn rotation hands over on Mondays.\n")
    scanned.clear()  # the writer starts reloading the copy after its write: held until the search is answered
    await index.reindex_paths([path])
    response = await index.search("zebracorn", limit=3)
    # the copy is of the old version: LanceDB answered the full-text half, and the new file is there
    assert calls == ["zebracorn"]
    assert response.results[0].file == "operations/pagers.md"
    scanned.set()
    await index._wait_idle()
    await memory.wait_loaded()
    version = await store.version()
    rows = memory.text_search(store, version, "zebracorn", domain=None, source=None, tags=(), exclude_docs=[], limit=3)
    assert rows is not None and rows[0]["file"] == "operations/pagers.md"
    response = await index.search("zebracorn rotation", limit=3)
    assert calls == ["zebracorn"]  # this one from memory
    assert response.results[0].file == "operations/pagers.md"


def test_very_long_words_are_not_indexed() -> None:
    """The analyzer drops words of 40 bytes or more, as LanceDB's index does."""
    long_word = "a" * 40
    assert text_index([f"{long_word} keys", "keys"]).scores(long_word) is None


async def test_no_copy_is_loaded_while_the_index_is_being_built(index: IndexWriter) -> None:
    """While a build writes batch after batch, each version would be stale before its copy loaded."""
    memory = index._vectors
    index._status = index._status.model_copy(update={"state": "building"})
    assert (await index.search("vault credentials")).results
    await memory.wait_loaded()
    assert memory._snapshot is None
    index._status = index._status.model_copy(update={"state": "ready"})
    assert (await index.search("vault credentials rotate")).results
    await memory.wait_loaded()
    assert memory._snapshot is not None


async def test_the_copy_gives_the_garbage_collector_nothing_to_scan(rich: IndexWriter) -> None:
    """List cells (heading path, tags, paths) are kept as tuples of strings, which the collector
    stops tracking, so a copy of 20k chunks does not make every full collection scan 60k lists."""
    import gc

    memory = rich._vectors
    await rich.search("warm up")
    await memory.wait_loaded()
    snapshot = memory._snapshot
    assert snapshot is not None
    gc.collect()
    cells = [snapshot.columns[name][i] for name in ("heading_path", "tags", "paths") for i in range(3)]
    assert all(isinstance(cell, tuple) for cell in cells)
    assert not any(gc.is_tracked(cell) for cell in cells)
    rows = memory.search(
        rich._store,
        snapshot.version,
        rich._embedder.embed(["vault"])[0],
        domain=None,
        source=None,
        tags=(),
        exclude_docs=[],
        limit=3,
    )
    assert rows is not None
    hit = (await rich.search("vault credentials rotate")).results[0]
    assert isinstance(hit.heading_path, list) and isinstance(hit.tags, list)  # the answer's types are unchanged
