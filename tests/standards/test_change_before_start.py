"""A change handed to the writer before its start() has opened the table (an approval while the
server is still starting: the index starts in the background) waits for the table and lands; it
used to find no table, be taken for a damaged index, and leave the index in 'error'."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from standards import HashingEmbedder, IndexConfig, IndexWriter
from standards.index.writer import IndexStopped
from tests.standards.conftest import write

NEW_MD = """# Feature Flags

## Rule

Every feature flag has an owner and an expiry date; remove it within one release of full rollout.
"""


async def test_a_change_before_start_waits_for_the_table_and_is_searchable(
    config: IndexConfig, project_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = IndexWriter(config, HashingEmbedder())  # an index built by an earlier run
    await first.start(watch=False)
    await first.wait_ready(60)
    await first.stop()
    writer = IndexWriter(config, HashingEmbedder())
    new_file = write(project_dir / "development" / "feature-flags.md", NEW_MD)
    early = asyncio.create_task(writer.reindex_paths([new_file]))
    await asyncio.sleep(0)  # the change is handed over first
    assert not early.done()
    try:
        await writer.start(watch=False)
        await asyncio.wait_for(early, 60)  # landed, not raised
        status = await writer.wait_ready(60)
        assert status.state == "ready", status
        result = await writer.search("feature flag owner and expiry", limit=3)
        assert result.results, result
        assert result.results[0].file == "development/feature-flags.md"
        # the good index on disk was never taken for a damaged one and wiped (a full re-embed; two
        # at once ended in 'Table chunks already exists' and status 'error')
        assert "became unreadable" not in caplog.text
    finally:
        await writer.stop()


async def test_stop_releases_a_change_waiting_for_a_table_that_never_opens(config: IndexConfig) -> None:
    writer = IndexWriter(config, HashingEmbedder())
    early = asyncio.create_task(writer.reindex_paths([config.sources[0].root]))
    await asyncio.sleep(0)
    await writer.stop()
    # released at once, with the reason, instead of waiting out the bound (or re-creating the table)
    with pytest.raises(IndexStopped, match="stopped before this change could be indexed"):
        await asyncio.wait_for(early, 30)
