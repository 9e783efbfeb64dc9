"""The embedding cache shared across projects: a new project re-embeds none of the starter standards,
and the cache is private, bounded and survives damage."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from standards import HashingEmbedder, IndexConfig, IndexWriter, StandardsSource, universal_standards_dir
from standards.index.vector_cache import FILE_NAME, VectorCache, model_fingerprint
from tests.standards.conftest import IndexFactory, write


def project_config(tmp_path: Path, name: str, cache: Path | None) -> IndexConfig:
    project = tmp_path / name / "standards"
    write(project / "security" / f"{name}.md", f"# {name}\n\n## Rule\n\nThe {name} rule: tokens expire.\n")
    return IndexConfig(
        sources=[
            StandardsSource(root=project, kind="project"),
            StandardsSource(root=universal_standards_dir(), kind="universal"),
        ],
        index_dir=tmp_path / name / "index",
        embedding_cache_dir=cache,
    )


async def _build(make_index: IndexFactory, config: IndexConfig, embedder: HashingEmbedder) -> IndexWriter:
    index: IndexWriter = make_index(config, embedder)
    await index.start(watch=False)
    assert (await index.wait_ready(timeout=60)).state == "ready"
    return index


async def test_a_new_project_reuses_the_starter_vectors_of_an_earlier_one(
    make_index: IndexFactory, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first_embedder = HashingEmbedder()
    first = await _build(make_index, project_config(tmp_path, "alpha", cache), first_embedder)
    assert first_embedder.texts_embedded > 100  # the starters and alpha's own standard
    await first.stop()

    second_embedder = HashingEmbedder()
    second = await _build(make_index, project_config(tmp_path, "beta", cache), second_embedder)
    # only beta's own standard is new; every starter chunk came from the cache
    assert second_embedder.embedded
    assert all("beta" in text for text in second_embedder.embedded), second_embedder.embedded
    hits = (await second.search("incident response runbook", limit=3)).results
    assert hits and all(h.source == "universal" for h in hits)
    assert (await second.search("beta rule tokens", limit=1)).results[0].file == "security/beta.md"


async def test_without_a_cache_every_project_embeds_the_starters(make_index: IndexFactory, tmp_path: Path) -> None:
    embedders = [HashingEmbedder(), HashingEmbedder()]
    for name, embedder in zip(("alpha", "beta"), embedders, strict=True):
        index = await _build(make_index, project_config(tmp_path, name, None), embedder)
        await index.stop()
    assert embedders[1].texts_embedded > 100


async def test_the_cache_is_private_and_bounded(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    cache = VectorCache(folder, "model-a", 4, max_entries=100)
    cache.put({f"h{i}": [float(i), 0.0, 0.0, 1.0] for i in range(150)})
    assert len(cache) <= 100
    assert cache.get(["h149"]) == {"h149": [149.0, 0.0, 0.0, 1.0]}  # the newest survive
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / FILE_NAME).stat().st_mode) == 0o600
    # another model never sees these vectors
    assert VectorCache(folder, "model-b", 4).get(["h149"]) == {}
    cache.close()


async def test_lookups_longer_than_one_sql_batch_find_every_vector(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "cache", "model-a", 4)
    cache.put({f"h{i}": [float(i), 1.0, 0.0, 0.0] for i in range(1_234)})
    wanted = [f"h{i}" for i in range(1_234)] + ["missing"]
    found = cache.get(wanted)
    assert len(found) == 1_234  # three IN (...) batches, the last one partial
    assert found["h0"] == [0.0, 1.0, 0.0, 0.0]
    assert found["h1233"] == [1233.0, 1.0, 0.0, 0.0]
    cache.close()


async def test_a_damaged_cache_is_replaced_and_bad_rows_ignored(make_index: IndexFactory, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    cache = VectorCache(folder, "m", 3)
    cache.put({"good": [0.0, 1.0, 0.0]})
    cache.close()
    with sqlite3.connect(folder / FILE_NAME) as conn:  # a truncated and a non-finite vector
        conn.execute("INSERT INTO vectors VALUES ('m', 'short', x'0000', 0)")
        conn.execute("INSERT INTO vectors VALUES ('m', 'nan', x'0000c07f0000c07f0000c07f', 0)")
    assert VectorCache(folder, "m", 3).get(["good", "short", "nan"]) == {"good": [0.0, 1.0, 0.0]}

    (folder / FILE_NAME).write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{folder / FILE_NAME}{suffix}").unlink(missing_ok=True)
    config = project_config(tmp_path, "gamma", folder)
    embedder = HashingEmbedder()
    index = await _build(make_index, config, embedder)  # the index builds regardless
    assert embedder.texts_embedded > 100
    await index.stop()
    fresh = VectorCache(folder, model_fingerprint(HashingEmbedder()), 64)
    assert len(fresh) == embedder.texts_embedded  # a new cache was started and filled
    fresh.close()


class OtherModel(HashingEmbedder):
    """Another model with the same dimension as ``HashingEmbedder()`` and other vectors."""

    @property
    def name(self) -> str:
        return "other-model-64"

    def _vector(self, text: str) -> list[float]:
        return super()._vector(f"other model {text}")


async def stored_vectors(index: IndexWriter) -> set[tuple[float, ...]]:
    rows = (await index._store._t().query().select(["vector"]).to_arrow()).to_pylist()
    return {tuple(round(x, 5) for x in row["vector"]) for row in rows}


def vectors_of(embedder: HashingEmbedder, texts: list[str]) -> set[tuple[float, ...]]:
    return {tuple(round(x, 5) for x in v) for v in embedder.embed(texts)}


async def test_switching_models_never_mixes_their_vectors(make_index: IndexFactory, tmp_path: Path) -> None:
    """One project and one cache, the model switched and back: the other model re-embeds every chunk
    (none of the first model's vectors is reused from the index or the cache, though the dimension
    is the same), and switching back takes every vector from the cache, under the first model's key."""
    cache = tmp_path / "cache"
    config = project_config(tmp_path, "alpha", cache)
    first = HashingEmbedder()
    index = await _build(make_index, config, first)
    texts = list(first.embedded)
    await index.stop()

    other = OtherModel()
    index = await _build(make_index, config, other)
    assert sorted(other.embedded) == sorted(texts)  # every chunk embedded again
    assert await stored_vectors(index) == vectors_of(OtherModel(), texts)  # only the other model's vectors
    assert (await index.search("alpha rule tokens", limit=1)).results[0].file == "security/alpha.md"
    await index.stop()

    back = HashingEmbedder()
    index = await _build(make_index, config, back)
    assert back.texts_embedded == 0  # every vector from the cache
    assert await stored_vectors(index) == vectors_of(HashingEmbedder(), texts)
    await index.stop()
