"""The in-memory vector copy answers exactly as LanceDB does, follows writes, and is dropped on reset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from standards import HashingEmbedder, IndexConfig, IndexWriter
from tests.standards.conftest import IndexFactory, write

QUERIES = ["rotate credentials vault", "structured logging levels", "fast unit tests", "secrets"]


@dataclass(frozen=True)
class F:
    domain: str | None = None
    source: str | None = None
    tags: tuple[str, ...] = ()
    exclude_docs: tuple[str, ...] = ()


FILTERS = [
    F(),
    F(domain="security"),
    F(source="universal"),
    F(tags=("observability",)),
    F(tags=("secrets", "vault")),
    F(tags=("secrets", "logging")),
]


async def test_same_rows_as_lancedb_for_every_filter(index: IndexWriter, embedder: HashingEmbedder) -> None:
    from standards.index.store import build_filter

    store, cache = index._store, index._vectors
    version = await store.version()
    vector = embedder.embed(["warm"])[0]
    assert cache.search(store, version, vector, domain=None, source=None, tags=(), exclude_docs=[], limit=5) is None
    await cache.wait_loaded()
    manifest = await store.manifest()
    some_doc = sorted(manifest)[0]
    for f in [*FILTERS, F(exclude_docs=(some_doc,)), F(domain="security", exclude_docs=(some_doc,))]:
        where = build_filter(domain=f.domain, source=f.source, tags=list(f.tags), exclude_docs=list(f.exclude_docs))
        for query in QUERIES:
            vector = embedder.embed([query])[0]
            expected = await store.vector_search(vector, where, 10)
            got = cache.search(
                store,
                version,
                vector,
                domain=f.domain,
                source=f.source,
                tags=f.tags,
                exclude_docs=list(f.exclude_docs),
                limit=10,
            )
            assert got is not None
            assert [r["id"] for r in got] == [r["id"] for r in expected], (f, query)
            assert [r["_distance"] for r in got] == pytest.approx([r["_distance"] for r in expected], abs=1e-5)
            assert all(set(r) >= {"file", "doc", "text", "heading_path", "paths", "tags"} for r in got)


async def test_follows_writes_and_forgets_on_reset(
    index: IndexWriter, embedder: HashingEmbedder, tmp_path: Path
) -> None:
    cache = index._vectors
    await index.search("warm up the copy")
    await cache.wait_loaded()
    before = await index._store.version()
    assert (
        cache.search(
            index._store, before, embedder.embed(["x"])[0], domain=None, source=None, tags=(), exclude_docs=[], limit=3
        )
        is not None
    )
    project_root = index.config.sources[0].root
    write(project_root / "operations" / "pagers.md", "# Pager Duty\n\nThe zebracorn rotation hands over on Mondays.\n")
    await index.reindex_paths([project_root / "operations" / "pagers.md"])
    # first search after the write: answered by LanceDB (the new copy loads meanwhile), already fresh
    response = await index.search("zebracorn rotation", limit=3)
    assert response.results[0].file == "operations/pagers.md"
    await cache.wait_loaded()
    response = await index.search("zebracorn rotation hands over", limit=3)
    assert response.results[0].file == "operations/pagers.md"
    after = await index._store.version()
    assert after != before
    index._cache.clear()  # what a rebuild after damage does: versions start over
    assert (
        cache.search(
            index._store, after, embedder.embed(["x"])[0], domain=None, source=None, tags=(), exclude_docs=[], limit=3
        )
        is None
    )


async def test_a_table_over_the_bound_is_not_copied(index: IndexWriter, embedder: HashingEmbedder) -> None:
    from standards.index.memory_vectors import MemoryVectors

    cache = MemoryVectors(max_rows=1)
    version = await index._store.version()
    vector = embedder.embed(["x"])[0]
    for _ in range(2):
        assert (
            cache.search(index._store, version, vector, domain=None, source=None, tags=(), exclude_docs=[], limit=3)
            is None
        )
        await cache.wait_loaded()
    await cache.close()


async def test_a_freezing_process_freezes_once_more_after_the_first_copy(
    index: IndexWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`personas serve` freezes what start-up built; the modules a search imports later and the first
    copy are frozen too (once per copy holder), so full collections stop rescanning them. A process
    that never froze anything (this test run, `personas worker`) is left alone."""
    import gc

    from standards.index.memory_vectors import MemoryVectors

    freezes: list[int] = []
    monkeypatch.setattr(gc, "freeze", lambda: freezes.append(1))
    monkeypatch.setattr(gc, "get_freeze_count", lambda: 0)
    await index.search("warm up the copy")
    await index._vectors.wait_loaded()
    assert freezes == []  # nothing frozen by this process: not started now either

    monkeypatch.setattr(gc, "get_freeze_count", lambda: 1000)  # as after `personas serve` started
    cache = MemoryVectors()
    version = await index._store.version()
    await cache.load(index._store, version)
    assert cache._snapshot is not None and freezes == [1]
    cache.forget()
    await cache.load(index._store, version)  # a later copy: no second freeze
    assert cache._snapshot is not None and freezes == [1]
    await cache.close()


class LoadedModel(HashingEmbedder):
    """A model that is loaded (as the ONNX embedder after its warm-up): it embeds a query on the spot."""

    def __init__(self, loaded: bool) -> None:
        super().__init__()
        self.loaded = loaded
        self.on_the_spot: list[str] = []
        self.threads: set[str] = set()

    def embed_if_loaded(self, text: str) -> list[float] | None:
        if not self.loaded:
            return None
        self.on_the_spot.append(text)
        return self.embed([text])[0]

    def embed(self, texts: list[str]) -> list[list[float]]:
        import threading

        self.threads.add(threading.current_thread().name)
        return super().embed(texts)


@pytest.mark.parametrize("loaded", [True, False])
async def test_a_loaded_model_embeds_the_query_without_a_thread(
    config: IndexConfig, make_index: IndexFactory, loaded: bool
) -> None:
    import threading

    model = LoadedModel(loaded)
    index = make_index(config, model)
    await index.start(watch=False)
    assert (await index.wait_ready(timeout=60)).state == "ready"
    await index._wait_idle()
    await index.search("warm up the copy")
    await index._vectors.wait_loaded()
    model.threads.clear()
    model.on_the_spot.clear()
    response = await index.search("rotate vault credentials", limit=3)
    assert response.results[0].file == "security/secrets-management.md"
    if loaded:  # no hop to a thread and back: the event loop's own thread embedded it
        assert model.on_the_spot == ["rotate vault credentials"]
        assert model.threads == {threading.current_thread().name}
    else:  # still loading (or torch): a thread embeds it, the event loop never waits on the load
        assert model.on_the_spot == []
        assert threading.current_thread().name not in model.threads and model.threads


async def test_a_watching_writer_loads_the_copy_before_the_first_search(
    config: IndexConfig, embedder: HashingEmbedder
) -> None:
    """A server's writer (it watches) loads the in-memory copy once the start's reconcile is done, so
    its first searches are not answered by LanceDB while the copy loads; a one-shot writer (the CLI,
    no watcher) loads it with its first search, as before."""
    for watch in (True, False):
        index = IndexWriter(config, embedder)
        await index.start(watch=watch)
        try:
            assert (await index.wait_ready(timeout=30)).state == "ready"
            await index._wait_idle()
            snapshot = index._vectors._snapshot
            if watch:
                assert snapshot is not None and snapshot.version == await index._store.version()
            else:
                assert snapshot is None
        finally:
            await index.stop()
