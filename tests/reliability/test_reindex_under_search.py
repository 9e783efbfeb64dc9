"""Concurrent searches while the watcher re-indexes: files are added, rewritten and deleted under a
steady stream of searches on the writer (the server) and a reader (a worker's view of the index).

No search raises; once the index settled no result references a deleted file or a replaced text,
and every new text is findable, on the writer and the reader alike.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from standards import HashingEmbedder, IndexConfig, IndexReader, IndexSearcher, IndexWriter, StandardsSource
from tests.conftest import wait_for

INITIAL, ADDED, CHANGED, DELETED = 12, 10, 4, 4


def word(kind: str, n: int) -> str:
    """A distinct alphabetic marker word, e.g. word('old', 3) == 'oldmarkerd'."""
    return f"{kind}marker{chr(ord('a') + n)}"


def doc(title: str, marker: str) -> str:
    return f"---\ntags: [churn]\n---\n# {title}\n\n## Rule\n\nThe {marker} rule applies to every service.\n"


@pytest.fixture
async def indexes(tmp_path: Path) -> AsyncIterator[tuple[IndexWriter, IndexReader, Path]]:
    root = tmp_path / "standards"
    for n in range(INITIAL):
        path = root / f"domain{n % 3}" / f"topic-{n}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc(f"Topic {n}", word("old", n)))
    config = IndexConfig(
        sources=[StandardsSource(root=root, kind="project")], index_dir=tmp_path / "index", debounce_seconds=0.05
    )
    writer = IndexWriter(config, HashingEmbedder())
    reader = IndexReader(config, HashingEmbedder())
    try:
        await writer.start(watch=True)
        assert (await writer.wait_ready(timeout=30)).state == "ready"
        await reader.start()
        assert (await reader.wait_ready(timeout=60)).state == "ready"
        yield writer, reader, root
    finally:
        await reader.stop()
        await writer.stop()


async def _files_for(index: IndexSearcher, query: str) -> set[str]:
    return {hit.file for hit in (await index.search(query, limit=10)).results}


async def test_searches_during_reindexing_never_fail_and_see_no_ghosts(
    indexes: tuple[IndexWriter, IndexReader, Path],
) -> None:
    writer, reader, root = indexes
    vocabulary = [word(kind, n) for kind in ("old", "new", "changed") for n in range(INITIAL + ADDED)]
    errors: list[BaseException] = []
    searches = itertools.count()
    stop = asyncio.Event()

    async def searcher(index: IndexSearcher, seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            query = " ".join(rng.sample(vocabulary, 2))
            try:
                response = await index.search(query, limit=rng.randint(1, 10), domain=rng.choice([None, "domain1"]))
                assert response.status.state in ("ready", "building", "empty"), response.status
            except Exception as exc:  # any failure of a search is the bug this test looks for
                errors.append(exc)
            next(searches)
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(searcher(ix, seed)) for seed, ix in enumerate([writer, writer, reader, reader])]
    added = [root / f"domain{n % 3}" / f"new-{n}.md" for n in range(ADDED)]
    changed = [root / f"domain{n % 3}" / f"topic-{n}.md" for n in range(CHANGED)]
    deleted = [root / f"domain{n % 3}" / f"topic-{n}.md" for n in range(CHANGED, CHANGED + DELETED)]
    try:
        for step in range(max(ADDED, CHANGED, DELETED)):
            if step < ADDED:
                added[step].write_text(doc(f"New {step}", word("new", step)))
            if step < CHANGED:
                changed[step].write_text(doc(f"Topic {step} v2", word("changed", step)))
            if step < DELETED:
                deleted[step].unlink()
            await asyncio.sleep(0.08)  # longer than the debounce: several separate re-indexes
        rel = {p: p.relative_to(root).as_posix() for p in [*added, *changed, *deleted]}

        async def settled(index: IndexSearcher) -> bool:
            for n, path in enumerate(added):
                if rel[path] not in await _files_for(index, word("new", n)):
                    return False
            for n, path in enumerate(changed):
                if rel[path] not in await _files_for(index, word("changed", n)):
                    return False
            listed = {f.file for f in await index.list_files()}
            return not listed & {rel[p] for p in deleted}

        await wait_for(lambda: settled(writer), timeout=20, what="the writer to index every change")
        await wait_for(lambda: settled(reader), timeout=60, what="the reader to see every change")
    finally:
        stop.set()
        await asyncio.gather(*tasks)

    assert not errors, errors[:3]
    assert next(searches) > 50  # the searches really ran throughout
    gone = {rel[p] for p in deleted}
    for index in (writer, reader):
        for n in range(CHANGED + DELETED):
            hits = (await index.search(word("old", n), limit=20)).results
            assert not gone & {h.file for h in hits}, n  # no ghost of a deleted file
            assert all(word("old", n) not in h.text for h in hits), n  # no replaced text
        listed = {f.file for f in await index.list_files()}
        assert len(listed) == INITIAL + ADDED - DELETED
        assert not gone & listed
