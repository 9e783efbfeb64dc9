"""A build whose reading fails while the group read before it is embedded: that group is committed
(as a build done one step after the other committed it), the reading's error is raised, and an error
of the group's write too is logged, not dropped; unless that write found the index unreadable: then
the corruption is raised (the writer rebuilds the index at once) and the reading's error is logged."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

import standards.index.indexer as indexer_module
import standards.index.sources as sources_module
from standards import HashingEmbedder, IndexConfig, IndexWriter, StandardsSource
from standards.index.indexer import READ_GROUP, Indexer
from standards.index.sources import SourceFile, discover
from standards.index.store import ChunkStore, StoreCorrupt

from .conftest import write

HANG_BOUND = 30.0  # seconds: never reached when the code works


class ReadFailed(RuntimeError):
    pass


class EmbedFailed(RuntimeError):
    pass


def _files(root: Path, count: int) -> list[SourceFile]:
    for i in range(count):
        body = "\n\n".join(f"## Rule {k}\n\nword{i}x{k} " * 20 for k in range(4))
        write(root / f"standard-{i:03d}.md", f"# Standard {i}\n\n{body}\n")
    return discover([StandardsSource(root=root, kind="project")])


class WaitsForTheFailedRead(HashingEmbedder):
    """The first embedding call waits until the next group's reading has failed and the build has
    seen it (a few turns of the event loop), then answers, or raises ``error``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, failed: threading.Event, error: Exception | None) -> None:
        super().__init__()
        self._loop, self._failed, self._error = loop, failed, error
        self.waited: list[bool] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not self.waited:
            self.waited.append(self._failed.wait(HANG_BOUND))
            asyncio.run_coroutine_threadsafe(_turns(), self._loop).result(HANG_BOUND)
            if self._error is not None:
                raise self._error
        return super().embed(texts)


async def _turns() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def _failing_reads(
    files: list[SourceFile], monkeypatch: pytest.MonkeyPatch, failures: int = 1_000_000
) -> threading.Event:
    """Reading any file after the first group raises ReadFailed (the first ``failures`` times);
    the event is set when it first did."""
    first_group = {sf.key for sf in files[:READ_GROUP]}
    monkeypatch.setattr(indexer_module, "WRITE_BATCH", 1)  # every read group is a write group
    failed = threading.Event()
    real_read = sources_module.read_standard
    left = [failures]

    def read(sf: SourceFile, **kwargs: Any) -> Any:
        if sf.key not in first_group and left[0] > 0:
            left[0] -= 1
            failed.set()
            raise ReadFailed(f"cannot read {sf.path}")
        return real_read(sf, **kwargs)

    monkeypatch.setattr(indexer_module, "read_standard", read)
    return failed


async def _build_with_failing_read(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    embed_error: Exception | None,
    raises: type[Exception] = ReadFailed,
) -> tuple[ChunkStore, list[SourceFile], WaitsForTheFailedRead]:
    files = _files(tmp_path / "standards", 2 * READ_GROUP)
    failed = _failing_reads(files, monkeypatch)
    store = ChunkStore(tmp_path / "db", writer=True)
    embedder = WaitsForTheFailedRead(asyncio.get_running_loop(), failed, embed_error)
    await store.open(embedder.dimension)
    indexer = Indexer(store, embedder, max_file_bytes=1_000_000)
    with pytest.raises(raises):
        await indexer.index(files, {})
    return store, files, embedder


async def test_a_failed_read_keeps_the_group_read_before_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, files, embedder = await _build_with_failing_read(tmp_path, monkeypatch, None)
    try:
        indexed = await store.manifest()
        assert set(indexed) == {sf.key for sf in files[:READ_GROUP]}  # committed, not cancelled halfway
        assert embedder.waited == [True]  # embedded after the next group's read had failed
    finally:
        store.close()


async def test_a_failed_write_beside_a_failed_read_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=indexer_module.__name__)
    store, _, _ = await _build_with_failing_read(tmp_path, monkeypatch, EmbedFailed("model gone"))
    try:
        assert await store.manifest() == {}  # nothing of the failed group was written
        logged = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], EmbedFailed)]
        assert len(logged) == 1, caplog.text
    finally:
        store.close()


async def test_an_unreadable_index_beside_a_failed_read_is_raised_and_the_read_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=indexer_module.__name__)
    store, _, _ = await _build_with_failing_read(
        tmp_path, monkeypatch, StoreCorrupt("chunks.lance: bad page"), StoreCorrupt
    )
    store.close()
    logged = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], ReadFailed)]
    assert len(logged) == 1, caplog.text
    assert "index was found unreadable" in logged[0].getMessage()


def _first_commit_finds_the_index_unreadable(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The first commit of the build raises StoreCorrupt (its files were damaged under it); the
    returned list counts the commits."""
    real = ChunkStore.replace_docs
    commits: list[int] = []

    async def replace_docs(self: ChunkStore, docs: list[str], rows: list[dict[str, Any]]) -> None:
        commits.append(len(docs))
        if len(commits) == 1:
            raise StoreCorrupt("LanceError(IO): chunks.lance/data/0.lance: unexpected end of file")
        await real(self, docs, rows)

    monkeypatch.setattr(ChunkStore, "replace_docs", replace_docs)
    return commits


@pytest.mark.parametrize("read_failures", [1, 1_000_000], ids=["read-fails-once", "read-keeps-failing"])
async def test_the_writer_rebuilds_at_once_when_a_write_finds_the_index_unreadable_beside_a_failed_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, read_failures: int
) -> None:
    files = _files(tmp_path / "standards", 2 * READ_GROUP)
    failed = _failing_reads(files, monkeypatch, read_failures)
    commits = _first_commit_finds_the_index_unreadable(monkeypatch)
    config = IndexConfig(
        sources=[StandardsSource(root=tmp_path / "standards", kind="project")], index_dir=tmp_path / "index"
    )
    writer = IndexWriter(config, WaitsForTheFailedRead(asyncio.get_running_loop(), failed, None))
    caplog.set_level(logging.WARNING, logger="standards")
    await writer.start(watch=False)
    try:
        status = await writer.wait_ready(timeout=HANG_BOUND)
        await writer._wait_idle()
    finally:
        await writer.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert any("became unreadable" in m and "rebuilding it" in m for m in messages), messages  # rebuilt now
    assert any(r.exc_info and isinstance(r.exc_info[1], ReadFailed) for r in caplog.records), messages
    assert len(commits) > 1  # the rebuild wrote again
    if read_failures == 1:  # a passing read error: the rebuilt index holds every file
        assert status.state == "ready", status
        assert status.files_indexed == len(files)
    else:  # it fails again in the rebuild: the status says so
        assert status.state == "error", status
        assert "cannot read" in (status.message or ""), status
