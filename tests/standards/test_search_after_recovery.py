"""A search that failed on the index files while a recovery replaced them: by the time the writer
looks, the index is sound again (the recovery is done), so the search runs once more and is
answered; before, the first error was raised as if the index were still broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from standards import HashingEmbedder, IndexConfig, IndexWriter, StandardsSource
from standards.index.store import ChunkStore

from .conftest import write

HANG_BOUND = 30.0  # seconds: never reached when the code works


class ReplacedUnderfoot(OSError):
    """What LanceDB raises when a file it had opened was replaced (here raised once, on purpose)."""


async def test_a_search_that_failed_on_replaced_files_is_answered_from_the_sound_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "standards"
    write(root / "security" / "okapi.md", "# Okapi tokens\n\n## Rule\n\nOkapi tokens expire after fifteen minutes.\n")
    write(root / "ops" / "narwhal.md", "# Narwhal retries\n\n## Rule\n\nNarwhal clients retry with backoff.\n")
    config = IndexConfig(sources=[StandardsSource(root=root, kind="project")], index_dir=tmp_path / "index")
    writer = IndexWriter(config, HashingEmbedder())
    await writer.start(watch=False)
    try:
        assert (await writer.wait_ready(timeout=HANG_BOUND)).state == "ready"
        real_version = ChunkStore.version
        failures: list[str] = []

        async def fails_once(store: ChunkStore) -> int:
            if not failures:
                failures.append("raised")
                raise ReplacedUnderfoot("lance: the file this read had opened is gone")
            return await real_version(store)

        monkeypatch.setattr(ChunkStore, "version", fails_once)
        response = await writer.search("okapi tokens expire")
    finally:
        await writer.stop()
    assert failures == ["raised"]
    assert response.status.state == "ready"
    assert response.results[0].file == "security/okapi.md"
