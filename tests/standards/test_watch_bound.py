"""The standards watcher follows the walk's skip rules and stays bounded: an edit under
``node_modules`` or ``.git`` neither reaches a re-index batch nor the index, an edit in a normal
folder does; a folder holding more folders than the bound is watched at its top level only."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from standards import IndexConfig, IndexWriter, StandardsSource
from standards.index import watcher
from standards.index.watcher import Debouncer, Watcher
from tests.conftest import wait_for
from tests.standards.conftest import IndexFactory, write


async def _found(index: IndexWriter, query: str, file: str) -> bool:
    return file in {hit.file for hit in (await index.search(query, limit=5)).results}


async def test_edits_under_skipped_folders_are_neither_batched_nor_indexed(
    make_index: IndexFactory, tmp_path: Path
) -> None:
    root = tmp_path / "std"
    write(root / "api" / "paging.md", "# Paging\n\nUse opaque cursors.\n")
    write(root / "node_modules" / "pkg" / "README.md", "# A package readme\n")
    write(root / ".git" / "HEAD", "ref: refs/heads/main\n")
    config = IndexConfig(
        sources=[StandardsSource(root=root, kind="project")], index_dir=tmp_path / "index", debounce_seconds=0.05
    )
    index: IndexWriter = make_index(config)
    batches: list[list[Path]] = []
    reindex = index.reindex_paths

    async def recording(paths: list[Path]) -> None:  # what the watcher's debouncer hands the writer
        batches.append(paths)
        await reindex(paths)

    index.reindex_paths = recording  # type: ignore[method-assign]
    await index.start(watch=True)
    assert (await index.wait_ready(timeout=30)).state == "ready"
    await index._wait_idle()

    # the skipped edits first: inotify reports one watch's events in order, so had they been let
    # through they would be in the normal edit's batch or an earlier one
    write(root / "node_modules" / "pkg" / "README.md", "# A package readme\n\nA wombat rule.\n")
    write(root / "node_modules" / "new" / "guide.md", "# Guide\n\nAnother wombat rule.\n")
    write(root / ".git" / "HEAD", "ref: refs/heads/wombat\n")
    write(root / "api" / "errors.md", "# Errors\n\nAnswer problem details: okapi.\n")
    await wait_for(lambda: _found(index, "okapi problem details", "api/errors.md"), timeout=60, what="the edit")

    seen = [p for batch in batches for p in batch]
    assert any(p.name == "errors.md" for p in seen), batches
    assert not [p for p in seen if {"node_modules", ".git"} & set(p.parts)], batches
    files = {f.file for f in await index.list_files()}
    assert "api/errors.md" in files
    assert not [f for f in files if "node_modules" in f], files


async def test_a_folder_past_the_bound_is_watched_at_its_top_level_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(watcher, "MAX_WATCH_DIRS", 3)
    root = tmp_path / "std"
    for name in ("a", "b", "c"):  # with the root, 4 folders: past the bound of 3
        (root / name).mkdir(parents=True)
    small = tmp_path / "small"
    (small / "a").mkdir(parents=True)  # 2 folders: watched recursively
    batches: list[list[Path]] = []

    async def flush(paths: list[Path]) -> None:
        batches.append(paths)

    watch = Watcher(Debouncer(flush, delay=0.05))
    with caplog.at_level(logging.WARNING, logger="standards"):
        watch.start([root, small])
    try:
        write(root / "a" / "deep.md", "# Deep\n")
        write(small / "a" / "nested.md", "# Nested\n")
        write(root / "top.md", "# Top\n")

        async def flushed() -> bool:
            names = {p.name for batch in batches for p in batch}
            return {"top.md", "nested.md"} <= names

        await wait_for(flushed, timeout=30, what="the top-level and the small tree's edits")
    finally:
        await watch.stop()
    assert "deep.md" not in {p.name for batch in batches for p in batch}
    warned = [r.getMessage() for r in caplog.records if "more than 3 folders" in r.getMessage()]
    assert len(warned) == 1 and str(root) in warned[0] and "PERSONAS_STANDARDS_DIR" in warned[0], warned
