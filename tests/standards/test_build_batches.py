"""A build embeds a write group's new texts in calls of similar length (less padding in the model)."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

from standards import HashingEmbedder, IndexConfig, IndexWriter, StandardsSource
from standards.index.indexer import EMBED_BATCH, hash_salt

from .conftest import write


class CallRecorder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        return super().embed(texts)


def _standard(i: int) -> str:
    sections = []
    for k in range(15):  # short and long sections interleaved in every file
        words = 4 if k % 2 else 40 + 5 * k
        body = " ".join(f"term{i}x{k}x{w}" for w in range(words))
        sections.append(f"## Rule {k}\n\n{body}.\n")
    return f"# Standard {i}\n\n" + "\n".join(sections)


async def test_rebuild_embeds_in_bounded_calls_ordered_by_length(tmp_path: Path) -> None:
    root = tmp_path / "standards"
    for i in range(40):
        write(root / f"area{i % 4}" / f"standard-{i}.md", _standard(i))
    config = IndexConfig(sources=[StandardsSource(root=root, kind="project")], index_dir=tmp_path / "index")
    embedder = CallRecorder()
    index = IndexWriter(config, embedder)
    await index.start(watch=False)
    try:
        await index.wait_ready(timeout=30)
        embedder.batches.clear()
        report = await index.rebuild()
        batches = list(embedder.batches)
        salt = hash_salt(embedder)
        hashes = {hashlib.sha256(f"{salt}\x00{t}".encode()).hexdigest(): t for batch in batches for t in batch}
        stored = await index._store.vectors_by_chunk_hash(list(hashes))
    finally:
        await index.stop()

    texts = [t for batch in batches for t in batch]
    assert report.chunks == len(texts) > 2 * EMBED_BATCH  # every chunk embedded once, over several calls
    assert len(set(texts)) == len(texts)
    assert all(len(batch) <= EMBED_BATCH for batch in batches)
    lengths = [[embedder.count_tokens(t) for t in batch] for batch in batches]
    for before, after in itertools.pairwise(lengths):
        assert max(before) <= min(after), "each call should hold the next-longest texts of the group"
    assert len(stored) == len(texts)  # each row holds the vector of its own text despite the reordering
    for chunk_hash, vector in stored.items():
        assert vector == pytest.approx(embedder.embed([hashes[chunk_hash]])[0], abs=1e-6)
