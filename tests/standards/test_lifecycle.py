"""Index lifecycle: one writer per index folder (file lock, hand-over), and the full-text index covering
every row after each build path (`personas index` as a user runs it, start-up, watcher batches)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_server.app import index_config
from mcp_server.settings import Settings
from standards import HashingEmbedder, IndexConfig, IndexReader, IndexWriter
from standards.index.commands import index_command
from standards.index.writer_lock import WriterBusy
from tests.conftest import wait_for
from tests.standards.conftest import SECRETS_MD, IndexFactory, write

PERSONAS_BIN = str(Path(sys.executable).with_name("personas"))


def _cli_env(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_")) and k != "REDIS_URL"}
    env.update(PERSONAS_PROJECT_ROOT=str(project), PERSONAS_EMBEDDER="hashing", HF_HUB_OFFLINE="1")
    return env


def _project(tmp_path: Path) -> tuple[Path, Settings]:
    project = tmp_path / "project"
    write(project / ".agent-os" / "standards" / "security" / "secrets.md", SECRETS_MD)
    return project, Settings(project_root=project, embedder="hashing")


async def _coverage(config: IndexConfig) -> tuple[int, int, int]:
    reader = IndexReader(config, HashingEmbedder())
    await reader.start()
    try:
        coverage = await reader.fts_coverage()
        assert coverage is not None
        return coverage[0], coverage[1], reader.status().chunks
    finally:
        await reader.stop()


async def test_personas_index_cli_leaves_the_full_text_index_covering_every_row(tmp_path: Path) -> None:
    project, settings = _project(tmp_path)
    done = await asyncio.to_thread(
        subprocess.run, [PERSONAS_BIN, "index"], env=_cli_env(project), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    indexed, unindexed, chunks = await _coverage(index_config(settings))
    assert chunks > 100  # the project's standard and the universal starters
    assert (indexed, unindexed) == (chunks, 0)
    assert f"full-text index: {chunks} rows indexed, 0 unindexed" in done.stdout
    reader = IndexReader(index_config(settings), HashingEmbedder())
    await reader.start()
    try:  # PERSONAS_EMBEDDER=hashing was honoured: 64-dimensional vectors, not the model's 384
        assert reader._store.dimension == HashingEmbedder().dimension
    finally:
        await reader.stop()


async def test_start_folds_rows_an_earlier_process_left_unindexed(
    make_index: IndexFactory, config: IndexConfig, index: IndexWriter
) -> None:
    rows = await index._store._t().query().limit(2).to_list()  # rewrite two rows without folding them
    await index._store.replace_docs(sorted({r["doc"] for r in rows}), [{**r} for r in rows if "_distance" not in r])
    await index.stop()
    _, unindexed, _ = await _coverage(config)
    assert unindexed > 0
    again = make_index(config)
    await again.start(watch=False)
    status = await again.wait_ready(timeout=30)
    assert (status.fts_indexed_rows, status.fts_unindexed_rows) == (status.chunks, 0)


async def test_watcher_batches_leave_a_bounded_tail_that_is_folded(index: IndexWriter, project_dir: Path) -> None:
    path = write(project_dir / "api" / "paging.md", "# Paging\n\n## Cursors\n\nUse opaque cursors: okapi.\n")
    await index.reindex_paths([path])
    assert index.status().fts_unindexed_rows <= 256

    async def folded() -> bool:
        coverage = await index.fts_coverage()
        return coverage is not None and coverage[1] == 0 and coverage[0] == index.status().chunks

    await wait_for(folded, timeout=60, what="the watcher batch to be folded into the full-text index")
    assert index.status().fts_unindexed_rows == 0


async def test_a_second_writer_is_refused_while_one_runs(
    make_index: IndexFactory, config: IndexConfig, index: IndexWriter
) -> None:
    second = make_index(config)
    with pytest.raises(WriterBusy, match=rf"pid {os.getpid()}"):
        await second.start(watch=False)
    await index.stop()  # the lock is released with the writer
    third = make_index(config)
    await third.start(watch=False)
    assert (await third.wait_ready(timeout=30)).state == "ready"


async def test_personas_index_hands_the_rebuild_to_the_running_writer(
    config: IndexConfig, index: IndexWriter, project_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The CLI finds the writer lock taken: it must not write (no second writer, no stale text),
    # but have the running writer rebuild, wait for it, and say so.
    path = project_dir / "security" / "secrets-management.md"
    write(path, SECRETS_MD.replace("ninety days", "seven days (newest edit)"))
    rebuilt = asyncio.Event()
    index.add_listener(lambda files: rebuilt.set())
    out = __import__("io").StringIO()
    code = await index_command(config, out=out, embedder=HashingEmbedder())
    assert code == 0
    assert out.getvalue().startswith("the running server indexed 3 files into 5 chunks")
    assert "handing the rebuild to it" in capsys.readouterr().err
    assert rebuilt.is_set()  # the writer did the work
    hits = (await index.search("rotate credentials vault", limit=1)).results
    assert "seven days (newest edit)" in hits[0].text


async def test_personas_index_subprocess_hands_over_to_a_running_server(
    tmp_path: Path, make_index: IndexFactory
) -> None:
    project, settings = _project(tmp_path)
    writer = make_index(index_config(settings))
    await writer.start(watch=False)
    assert (await writer.wait_ready(timeout=120)).state == "ready"
    done = await asyncio.to_thread(
        subprocess.run, [PERSONAS_BIN, "index"], env=_cli_env(project), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert f"pid {os.getpid()}" in done.stderr
    assert "the running server indexed" in done.stdout
    status = writer.status()
    assert (status.fts_indexed_rows, status.fts_unindexed_rows) == (status.chunks, 0)


async def test_a_second_server_reads_then_takes_over_writing_when_the_first_stops(
    make_index: IndexFactory, config: IndexConfig, index: IndexWriter, project_dir: Path
) -> None:
    from standards import writer_or_reader
    from standards.index.follower import FollowerIndex

    second = writer_or_reader(config, HashingEmbedder())
    assert isinstance(second, FollowerIndex)
    try:
        await second.start(watch=True)
        assert (await second.search("rotate credentials vault", limit=1)).results  # reads the first's index
        path = write(project_dir / "api" / "errors.md", "# Errors\n\nProblem details for every error: quoll.\n")
        await second.reindex_paths([path])  # handed to the first server
        assert (await second.search("quoll problem details", limit=1)).results[0].file == "api/errors.md"
        await index.stop()  # the first server exits

        async def promoted() -> bool:
            return second.promoted

        await wait_for(promoted, timeout=30, what="the second server to take over writing")
        write(project_dir / "api" / "paging.md", "# Paging\n\nOpaque cursors only: bettong.\n")

        async def found() -> bool:
            return any(h.file == "api/paging.md" for h in (await second.search("bettong cursors", limit=3)).results)

        await wait_for(found, timeout=30, what="a change after the take-over to be indexed by its watcher")

        async def ready() -> bool:  # the search can answer from the change while the build's tail still runs
            return second.status().state == "ready"

        await wait_for(ready, timeout=30, what="the promoted server's index to be ready")
    finally:
        await second.stop()
