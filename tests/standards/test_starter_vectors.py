"""The starter standards' vectors ship with the package (standards/index/starter_vectors.bin): the file
covers every starter chunk under the default backend, equals what the real model computes, and a new
project embeds none of the starters, with an empty user cache or after the cache pruned everything."""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from standards import HashingEmbedder, IndexConfig, IndexWriter, StandardsSource, universal_standards_dir
from standards.index import bootstrap
from standards.index.embedder import bundled_model_path
from standards.index.onnx_embedder import OnnxEmbedder
from standards.index.starter_vectors import (
    REGENERATE,
    StarterVectors,
    compute,
    default_embedder,
    read_header,
    shipped_path,
    starter_texts,
)
from standards.index.vector_cache import VectorCache, model_fingerprint
from tests.standards.conftest import IndexFactory, write


class CountingBundled:
    """The default backend's model as the index sees it (name, tokenizer, token limit, model folder:
    the same chunks and chunk hashes) with a counting ``embed`` that never loads the model: it
    records every text and answers with hashing vectors of the model's dimension."""

    def __init__(self) -> None:
        self._real = OnnxEmbedder(bundled_model_path())
        self._stand_in = HashingEmbedder(self._real.dimension)
        self._lock = threading.Lock()
        self.embedded: list[str] = []

    name = property(lambda self: self._real.name)
    dimension = property(lambda self: self._real.dimension)
    max_tokens = property(lambda self: self._real.max_tokens)
    model_path = property(lambda self: self._real.model_path)

    def count_tokens(self, text: str) -> int:
        return self._real.count_tokens(text)

    def embed(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            self.embedded.extend(texts)
        return self._stand_in.embed(texts)


def test_the_shipped_file_covers_every_starter_chunk_under_the_default_backend() -> None:
    embedder = default_embedder()
    fix = f"the shipped starter vectors are stale: run `{REGENERATE}` and commit {shipped_path().name}"
    assert shipped_path().is_file(), fix
    header, _ = read_header(shipped_path())
    assert header["model"] == embedder.name == "sentence-transformers:model:onnx-int8", fix
    assert header["fingerprint"] == model_fingerprint(embedder), f"another bundled model or key: {fix}"
    texts = starter_texts(embedder)
    found = StarterVectors(model_fingerprint(embedder), embedder.dimension).get(list(texts))
    missing = [texts[h] for h in texts if h not in found]
    assert not missing, f"{len(missing)} of {len(texts)} starter chunks lack a vector ({missing[0][:80]!r}...): {fix}"
    assert len(texts) > 200
    assert header["count"] == len(texts), f"entries for chunks no starter has any more: {fix}"


@pytest.mark.model
def test_the_shipped_vectors_are_what_the_real_model_computes() -> None:
    """Each chunk embedded alone now (as the write command does) against the shipped float16 copy.
    Bound: cosine ≥ 0.98 for every chunk and ≥ 0.995 on average. The same environment measures
    ≥ 0.9999999 (float16 rounding); int8's own noise is what another torch/onnxruntime or another
    batch gives (the same chunk in other padded batches: min 0.984, median 0.993; int8 vs fp32 min
    0.986), while a stale or misplaced vector (another chunk's) is far below."""
    embedder = default_embedder()
    fresh = compute(embedder)
    shipped = StarterVectors(model_fingerprint(embedder), embedder.dimension).get(list(fresh))
    assert shipped.keys() == fresh.keys(), f"run `{REGENERATE}`"
    hashes = sorted(fresh)
    a = np.asarray([fresh[h] for h in hashes], dtype=np.float32)
    b = np.asarray([shipped[h] for h in hashes], dtype=np.float32)
    cosines = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosines.min() >= 0.98, f"worst cosine {cosines.min():.4f}: run `{REGENERATE}`"
    assert cosines.mean() >= 0.995, f"mean cosine {cosines.mean():.4f}: run `{REGENERATE}`"
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-6)  # renormalised after float16


def starters_only(tmp_path: Path, cache: Path | None, universal: Path | None = None) -> IndexConfig:
    """A new, empty project: its index holds only the starters (and a project folder with nothing yet)."""
    return IndexConfig(
        sources=[
            StandardsSource(root=tmp_path / "project" / "standards", kind="project"),
            StandardsSource(root=universal or universal_standards_dir(), kind="universal"),
        ],
        index_dir=tmp_path / "project" / "index",
        embedding_cache_dir=cache,
    )


async def build(index: IndexWriter) -> None:
    await index.start(watch=False)
    assert (await index.wait_ready(timeout=60)).state == "ready"
    await index._wait_idle()


@pytest.mark.parametrize("cache", ["empty", "off"])
async def test_a_new_project_with_no_cached_vector_embeds_no_starter(
    make_index: IndexFactory, tmp_path: Path, cache: str
) -> None:
    embedder = CountingBundled()
    folder = tmp_path / "empty-user-cache" if cache == "empty" else None  # off: PERSONAS_EMBEDDING_CACHE=false
    index: IndexWriter = make_index(starters_only(tmp_path, folder), embedder)

    await index.prepare()  # no table yet: the start-up copy, from the shipped vectors alone
    assert index._startup is not None
    status = index.status()
    assert (status.state, status.message) == ("ready", bootstrap.MESSAGE)
    assert status.chunks == len(starter_texts(embedder)) > 200
    assert embedder.embedded == []  # not one starter chunk
    vectors = index._indexer.vector_cache
    assert vectors is not None and vectors.shipped_hits == status.chunks
    hits = (await index.search("incident response runbook", limit=3)).results
    assert hits and all(h.source == "universal" for h in hits)

    await build(index)  # the table's build takes the same vectors
    assert embedder.embedded == ["incident response runbook"]  # only the query
    assert index.status().chunks == status.chunks
    if folder is not None:  # the shipped vectors are not copied into the user's cache
        assert len(VectorCache(folder, model_fingerprint(embedder), embedder.dimension)) == 0


async def test_starters_come_shipped_after_the_user_cache_pruned_everything(
    make_index: IndexFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "user-cache"
    first_embedder = CountingBundled()
    first: IndexWriter = make_index(starters_only(tmp_path / "first", folder), first_embedder)
    write(first.config.sources[0].root / "security" / "tokens.md", "# Tokens\n\n## Expiry\n\nTokens expire hourly.\n")
    await build(first)
    assert first_embedder.embedded == ["Tokens > Expiry\n\nTokens expire hourly."]  # the project's own only
    await first.stop()
    # The user indexed so much else that the bound dropped every entry (max 0: the next put prunes all).
    cache = VectorCache(folder, model_fingerprint(first_embedder), first_embedder.dimension, max_entries=0)
    assert len(cache) == 1
    cache.put({"0" * 64: [1.0] + [0.0] * (first_embedder.dimension - 1)})
    assert len(cache) == 0
    cache.close()

    embedder = CountingBundled()
    index: IndexWriter = make_index(starters_only(tmp_path / "second", folder), embedder)
    await index.prepare()
    assert index._startup is not None
    await build(index)
    assert embedder.embedded == []
    assert index.status().chunks > 200


async def test_an_edited_starter_embeds_only_its_new_chunks(make_index: IndexFactory, tmp_path: Path) -> None:
    """A chunk hash covers the text: an entry for the old text never matches the new one."""
    universal = tmp_path / "universal"
    shutil.copytree(universal_standards_dir(), universal)
    edited = sorted(universal.rglob("*.md"))[0]
    edited.write_text(edited.read_text(encoding="utf-8") + "\n\n## Local addition\n\nAlways zorbify.\n", "utf-8")
    embedder = CountingBundled()
    index: IndexWriter = make_index(starters_only(tmp_path, tmp_path / "cache", universal), embedder)
    await index.prepare()
    assert index._startup is not None  # the start-up copy embedded the new chunk (a few: bootstrap.EMBED_AT_MOST)
    assert embedder.embedded and all("zorbify" in text for text in embedder.embedded), embedder.embedded
    embedded = list(embedder.embedded)
    await build(index)
    assert embedder.embedded == embedded  # the build took it from the user's cache


async def test_without_a_user_cache_a_project_standard_is_embedded_by_the_build(
    make_index: IndexFactory, tmp_path: Path
) -> None:
    """PERSONAS_EMBEDDING_CACHE=false: no start-up copy needing an embedding (the build would embed it
    again, in a batch: other int8 numbers than the copy's); the starters still come shipped."""
    embedder = CountingBundled()
    index: IndexWriter = make_index(starters_only(tmp_path, None), embedder)
    write(index.config.sources[0].root / "security" / "tokens.md", "# Tokens\n\n## Expiry\n\nTokens expire hourly.\n")
    await index.prepare()
    assert index._startup is None
    await build(index)
    assert embedder.embedded == ["Tokens > Expiry\n\nTokens expire hourly."]


def test_a_damaged_file_is_ignored_with_the_fix(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    embedder = CountingBundled()
    key, hashes = model_fingerprint(embedder), list(starter_texts(embedder))
    assert StarterVectors(key, embedder.dimension).get(hashes).keys() == set(hashes)
    damaged = tmp_path / "starter_vectors.bin"
    data = bytearray(shipped_path().read_bytes())
    data[-1] ^= 0x40
    damaged.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        assert StarterVectors(key, embedder.dimension, damaged).get(hashes) == {}
    assert str(damaged) in caplog.text and "damaged" in caplog.text and REGENERATE in caplog.text
    # another model (name or dimension) finds nothing in the file
    assert StarterVectors(model_fingerprint(HashingEmbedder(384)), 384).get(hashes) == {}
