"""A build whose reading fails while the group read before it is embedded: that group is committed
(as a build done one step after the other committed it), the reading's error is raised, and an error
of the group's write too is logged, not dropped."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

import standards.index.indexer as indexer_module
import standards.index.sources as sources_module
from standards import HashingEmbedder, StandardsSource
from standards.index.indexer import READ_GROUP, Indexer
from standards.index.sources import SourceFile, discover
from standards.index.store import ChunkStore

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


async def _build_with_failing_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embed_error: Exception | None
) -> tuple[ChunkStore, list[SourceFile], WaitsForTheFailedRead]:
    files = _files(tmp_path / "standards", 2 * READ_GROUP)
    first_group = {sf.key for sf in files[:READ_GROUP]}
    monkeypatch.setattr(indexer_module, "WRITE_BATCH", 1)  # every read group is a write group
    failed = threading.Event()
    real_read = sources_module.read_standard

    def read(sf: SourceFile, **kwargs: Any) -> Any:
        if sf.key not in first_group:
            failed.set()
            raise ReadFailed(f"cannot read {sf.path}")
        return real_read(sf, **kwargs)

    monkeypatch.setattr(indexer_module, "read_standard", read)
    store = ChunkStore(tmp_path / "db", writer=True)
    embedder = WaitsForTheFailedRead(asyncio.get_running_loop(), failed, embed_error)
    await store.open(embedder.dimension)
    indexer = Indexer(store, embedder, max_file_bytes=1_000_000)
    with pytest.raises(ReadFailed):
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
