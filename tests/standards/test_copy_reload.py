"""After writes, the in-memory copy reloads from the terms it kept (only new chunks are analysed) and
answers exactly as a copy built from nothing: same ids, same order, same scores; and as LanceDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from standards import HashingEmbedder, IndexWriter
from standards.index.bm25_terms import TermCache
from standards.index.memory_vectors import MemoryVectors
from standards.index.ranking import fts_query_text
from standards.index.snapshot import Snapshot
from standards.index.store import build_filter
from tests.standards.conftest import write

QUERIES = [
    "rotate credentials vault",
    "structured logging levels errors",
    "fast unit tests without a network",
    "zebracorn rotation pager",
    "incident commander pages",
    "what is it",
]
FILTERS: list[dict[str, Any]] = [
    {},
    {"domain": "operations"},
    {"source": "universal"},
    {"tags": ("vault",)},
    {"exclude_docs": ["project:operations/incidents.md"]},
]
FILES = {
    "operations/incidents.md": "# Incidents\n\n## Pages\n\nThe incident commander pages the on-call engineer; "
    "logged errors are reviewed after every incident.\n\n## Review\n\nEvery incident gets a blameless review.\n",
    "operations/pagers.md": "# Pager Duty\n\nThe zebracorn rotation hands over on Mondays.\n",
}


def answers(snapshot: Snapshot, embedder: HashingEmbedder) -> list[Any]:
    """Every query's full-text and nearest rows (id and score, in order) under every filter."""
    out: list[Any] = []
    for f in FILTERS:
        keep = snapshot.mask(f.get("domain"), f.get("source"), f.get("tags", ()), f.get("exclude_docs", []))
        for query in QUERIES:
            text = [(r["id"], r["_score"]) for r in snapshot.matches(fts_query_text(query), keep, 20)]
            near = [(r["id"], r["_distance"]) for r in snapshot.nearest(embedder.embed([query])[0], keep, 20)]
            out.append((text, near))
    return out


async def fresh_copy(index: IndexWriter) -> Snapshot:
    memory = MemoryVectors()
    await memory.load(index._store, await index._store.version())
    snapshot = memory._snapshot
    assert snapshot is not None
    await memory.close()
    return snapshot


async def test_a_reloaded_copy_answers_as_a_fresh_one_and_as_lancedb(
    index: IndexWriter, embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, memory = index._store, index._vectors
    root = index.config.sources[0].root
    await memory.load(store, await store.version())
    first = memory._snapshot
    assert first is not None and first.analysed == len(first.matrix) > 3  # every chunk analysed once
    analysed: list[str] = []
    entry = TermCache._entry

    def counted(self: TermCache, text: str) -> Any:
        analysed.append(text)
        return entry(self, text)

    monkeypatch.setattr(TermCache, "_entry", counted)
    changes: list[list[Path]] = [
        [write(root / rel, text) for rel, text in FILES.items()],  # two new files
        [write(root / "operations" / "incidents.md", FILES["operations/incidents.md"] + "\nPages go out by SMS.\n")],
        [root / "development" / "logging.md"],  # deleted below
    ]
    (root / "development" / "logging.md").unlink()
    for paths in changes:
        await index.reindex_paths(paths)
    await index._fold()  # the full-text index covers every row: LanceDB's scores are comparable
    await index._wait_idle()
    # the writer reloaded the copy after its writes, without waiting for a search
    reloaded = memory._snapshot
    assert reloaded is not None and reloaded.version == await store.version() != first.version
    # only the chunks that did not exist before were analysed; the deleted file's terms are gone
    assert 0 < len(analysed) <= 6 and all("zebracorn" in t or "ncident" in t for t in analysed)
    assert memory._terms is not None and len(memory._terms) == len(reloaded.matrix)
    fresh = await fresh_copy(index)
    assert fresh.analysed == len(fresh.matrix)
    got, want = answers(reloaded, embedder), answers(fresh, embedder)
    assert got == want  # ids, order and scores, exactly
    assert sum(len(text) for text, _ in got) > 20  # the queries do match things
    for f in FILTERS:
        where = build_filter(
            domain=f.get("domain"),
            source=f.get("source"),
            tags=list(f.get("tags", ())),
            exclude_docs=f.get("exclude_docs", []),
        )
        for query in QUERIES:
            text = fts_query_text(query)
            expected = await store.text_search(text, where, 20)
            rows = memory.text_search(
                store,
                reloaded.version,
                text,
                limit=20,
                **{"domain": None, "source": None, "tags": (), "exclude_docs": [], **f},
            )
            assert rows is not None
            assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in expected), (f, query)
            assert sorted(r["_score"] for r in rows) == pytest.approx(sorted(r["_score"] for r in expected), rel=1e-3)


async def test_a_writer_that_never_searched_loads_no_copy_after_a_write(index: IndexWriter) -> None:
    """A one-shot writer (``personas index``) has no copy in use: its writes do not load one."""
    root = index.config.sources[0].root
    await index.reindex_paths([write(root / "operations" / "pagers.md", FILES["operations/pagers.md"])])
    await index._fold()
    await index._wait_idle()
    assert index._vectors._snapshot is None
