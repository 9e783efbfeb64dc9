"""A build embeds a write group's new texts in calls of similar length (less padding in the model),
sorted by the chunker's token counts, while the next files are read."""

from __future__ import annotations

import hashlib
import itertools
import threading
from pathlib import Path
from typing import Any

import pytest

import standards.index.indexer as indexer_module
import standards.index.sources as sources_module
from standards import HashingEmbedder, IndexConfig, IndexWriter, StandardsSource
from standards.index.chunker import chunk_markdown
from standards.index.indexer import EMBED_BATCH, READ_GROUP, _title_from_name, hash_salt
from standards.index.sources import SourceFile, discover

from .conftest import write

HANG_BOUND = 30.0  # seconds: never reached when the code works


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


def _forty_standards(tmp_path: Path) -> IndexConfig:
    """An index config over 40 standards in four folders, each mixing short and long sections."""
    root = tmp_path / "standards"
    for i in range(40):
        write(root / f"area{i % 4}" / f"standard-{i}.md", _standard(i))
    return IndexConfig(sources=[StandardsSource(root=root, kind="project")], index_dir=tmp_path / "index")


async def test_rebuild_embeds_in_bounded_calls_ordered_by_length(tmp_path: Path) -> None:
    config = _forty_standards(tmp_path)
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


class CountRecorder(CallRecorder):
    """Also records the texts whose tokens were counted."""

    def __init__(self) -> None:
        super().__init__()
        self.counted: list[str] = []

    def count_tokens(self, text: str) -> int:
        self.counted.append(text)
        return super().count_tokens(text)


async def test_the_length_sort_reuses_the_chunkers_counts(tmp_path: Path) -> None:
    """The chunker counted every chunk's tokens while cutting it: sorting a group by length
    tokenizes no embedded text a second time (~0.1 ms per chunk with the model's tokenizer)."""
    config = _forty_standards(tmp_path)
    embedder = CountRecorder()
    index = IndexWriter(config, embedder)
    await index.start(watch=False)
    try:
        await index.wait_ready(timeout=30)
        embedder.batches.clear()
        embedder.counted.clear()
        await index.rebuild()
    finally:
        await index.stop()
    embedded = {t for batch in embedder.batches for t in batch}
    assert len(embedded) > EMBED_BATCH  # sorted before it was cut into calls
    assert embedder.counted  # the chunker counted the blocks and heading paths
    assert not embedded & set(embedder.counted)


def _expected_calls(files: list[SourceFile], embedder: HashingEmbedder) -> list[list[str]]:
    """The embedding calls of a build done one step after the other: files read a group at a time,
    a write group's texts (once each) sorted by token count, then cut into calls."""
    calls: list[list[str]] = []

    def flush(texts: list[str]) -> None:
        texts = list(dict.fromkeys(texts))
        if len(texts) > EMBED_BATCH:
            texts = sorted(texts, key=embedder.count_tokens)
        calls.extend(texts[i : i + EMBED_BATCH] for i in range(0, len(texts), EMBED_BATCH))

    pending: list[str] = []
    for start in range(0, len(files), READ_GROUP):
        for sf in files[start : start + READ_GROUP]:
            doc = chunk_markdown(
                sf.path.read_text(encoding="utf-8"),
                default_title=_title_from_name(sf.file),
                count_tokens=embedder.count_tokens,
                max_tokens=embedder.max_tokens,
            )
            pending += [chunk.embed_text for chunk in doc.chunks]
        if len(pending) >= indexer_module.WRITE_BATCH:
            flush(pending)
            pending = []
    if pending:
        flush(pending)
    return calls


async def test_the_next_files_are_read_while_a_group_is_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading and chunking go on while the model embeds the group before (the model's thread used to
    wait for reading and reading for the model), and the calls are still those of a build done one
    step after the other: the same texts in the same calls, every row with its own text's vector."""
    monkeypatch.setattr(indexer_module, "WRITE_BATCH", 300)  # several write groups of ~2 read groups
    root = tmp_path / "standards"
    for i in range(70):
        write(root / f"area{i % 4}" / f"standard-{i}.md", _standard(i))
    embedding = threading.Event()  # the build's first embedding call has begun
    read_while_embedding = threading.Event()
    real_read = sources_module.read_standard

    def read(sf: SourceFile, **kwargs: Any) -> Any:
        if embedding.is_set():
            read_while_embedding.set()
        return real_read(sf, **kwargs)

    monkeypatch.setattr(indexer_module, "read_standard", read)
    read_meanwhile: list[bool] = []

    class FirstCallWaits(CallRecorder):
        def embed(self, texts: list[str]) -> list[list[float]]:
            if not self.batches:  # the first call of the build waits: does reading go on meanwhile?
                embedding.set()
                read_meanwhile.append(read_while_embedding.wait(HANG_BOUND))
            return super().embed(texts)

    config = IndexConfig(sources=[StandardsSource(root=root, kind="project")], index_dir=tmp_path / "index")
    embedder = FirstCallWaits()
    index = IndexWriter(config, embedder)
    await index.start(watch=False, reconcile=False)
    try:
        report = await index.rebuild()
        salt = hash_salt(embedder)
        texts = {hashlib.sha256(f"{salt}\x00{t}".encode()).hexdigest(): t for b in embedder.batches for t in b}
        stored = await index._store.vectors_by_chunk_hash(list(texts))
    finally:
        await index.stop()
    assert read_meanwhile == [True]
    assert embedder.batches == _expected_calls(discover(config.sources), embedder)
    assert report.chunks == len(texts) == len(stored)
    for chunk_hash, vector in stored.items():
        assert vector == pytest.approx(embedder.embed([texts[chunk_hash]])[0], abs=1e-6)
