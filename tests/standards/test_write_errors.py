"""A watcher batch whose write fails for real (LanceDB cannot commit): the change is kept and retried
with backoff, the status says 'stale' with the reason meanwhile, and the change lands once the
write works again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from standards import IndexConfig, IndexWriter
from tests.conftest import wait_for
from tests.standards.conftest import IndexFactory, write


@contextmanager
def commits_blocked(index_dir: Path) -> Iterator[None]:
    """LanceDB's commit needs ``_transactions/`` to be a folder: a file in its place makes every
    write fail with an OS error while reads keep working (like a read-only or full disk would)."""
    folder = index_dir / "lancedb" / "chunks.lance" / "_transactions"
    aside = folder.with_name("_transactions.aside")
    folder.rename(aside)
    folder.write_text("blocked")
    try:
        yield
    finally:
        folder.unlink()
        aside.rename(folder)


async def test_failed_watcher_write_is_retried_and_status_is_stale_until_it_lands(
    make_index: IndexFactory, config: IndexConfig, project_dir: Path
) -> None:
    index: IndexWriter = make_index(config)
    await index.start(watch=True)
    assert (await index.wait_ready(timeout=30)).state == "ready"

    async def found(word: str) -> bool:
        return any(word in hit.text for hit in (await index.search(word, limit=3)).results)

    with commits_blocked(config.index_dir):
        write(project_dir / "api" / "paging.md", "# Paging\n\nUse opaque cursors: okapi.\n")

        async def stale() -> bool:
            return index.status().state == "stale"

        await wait_for(stale, timeout=20, what="the status to turn stale")
        status = index.status()
        assert "changed paths not indexed yet" in status.message
        assert "File exists" in status.message or "os error" in status.message
        assert not await found("okapi")
        # readers see it too
        reader = make_index(config, writer=False)
        await reader.start()
        assert (await reader.search("okapi", limit=1)).status.state == "stale"
    await wait_for(lambda: found("okapi"), timeout=60, what="the retried change to be indexed")

    async def ready() -> bool:
        return index.status().state == "ready"

    await wait_for(ready, timeout=30, what="the status to be ready again")
    assert os.path.isdir(config.index_dir / "lancedb" / "chunks.lance" / "_transactions")
