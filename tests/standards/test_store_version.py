"""The table version a search checks: the writer keeps it between its own commits, never a stale one."""

from __future__ import annotations

import asyncio
from pathlib import Path

from standards import IndexWriter
from standards.index.store import ChunkStore
from tests.standards.conftest import write


async def latest_on_disk(db_dir: Path) -> int:
    reader = ChunkStore(db_dir, writer=False)
    assert await reader.open(None)
    try:
        return await reader.version()
    finally:
        reader.close()


async def test_the_writer_sees_each_of_its_commits(index: IndexWriter) -> None:
    store = index._store
    seen = [await store.version()]
    assert seen[0] == await latest_on_disk(store.db_dir)

    project_root = index.config.sources[0].root
    write(project_root / "operations" / "pagers.md", "# Pager Duty\n\nThe zebracorn rotation hands over on Mondays.\n")
    await index.reindex_paths([project_root / "operations" / "pagers.md"])  # replace_docs
    seen.append(await store.version())
    assert (await index.search("zebracorn rotation", limit=3)).results[0].file == "operations/pagers.md"
    await store.optimize()
    seen.append(await store.version())
    await store.rebuild_fts()
    seen.append(await store.version())

    assert seen == sorted(set(seen)), seen  # every commit moved it on
    assert seen[-1] == await latest_on_disk(store.db_dir)
    assert await store.version() == seen[-1]  # asked again: the kept answer


class SlowVersionTable:
    """Stands in for the LanceDB table: ``version()`` reads the version, then waits to answer."""

    def __init__(self) -> None:
        self.committed = 1
        self.answer = asyncio.Event()

    async def version(self) -> int:
        version = self.committed
        await self.answer.wait()
        return version


async def test_a_version_read_while_the_writer_commits_is_not_kept(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path, writer=True)
    table = store._table = SlowVersionTable()
    reading = asyncio.ensure_future(store.version())
    await asyncio.sleep(0)  # the read has started and holds version 1
    with store._committing():
        table.committed = 2
    table.answer.set()
    assert await reading == 1  # the version when it was asked
    assert await store.version() == 2  # not the answer read across the commit


async def test_a_reader_asks_every_time(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path, writer=False)
    table = store._table = SlowVersionTable()
    table.answer.set()
    assert await store.version() == 1
    table.committed = 2  # the writer process committed
    assert await store.version() == 2
