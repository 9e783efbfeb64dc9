"""Damaged full-text index files (the table itself intact): the index is probed when opened and by
`personas doctor`, rebuilt when unreadable, and search keeps answering meanwhile."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from mcp_server.app import index_config
from mcp_server.doctor import run_doctor
from mcp_server.settings import Settings
from standards import HashingEmbedder, IndexConfig, IndexWriter
from tests.standards.conftest import SECRETS_MD, IndexFactory, write


def garble_fts(index_dir: Path) -> int:
    """Overwrite every file of the table's indexes (only the full-text index exists below 5k rows)."""
    files = [p for p in (index_dir / "lancedb" / "chunks.lance" / "_indices").rglob("*") if p.is_file()]
    for path in files:
        path.write_bytes(b"\x00garbage\xff" * 8)
    return len(files)


async def test_damaged_fts_files_are_rebuilt_when_the_index_opens(
    make_index: IndexFactory, config: IndexConfig, index: IndexWriter
) -> None:
    await index.stop()
    assert garble_fts(config.index_dir) > 0
    again: IndexWriter = make_index(config)
    await again.start(watch=False)
    assert (await again.wait_ready(timeout=30)).state == "ready"
    assert await again.probe_fts() is None
    response = await again.search("rotate credentials vault", limit=1)
    assert response.results[0].file == "security/secrets-management.md"
    assert await again.fts_coverage() == (5, 0)


async def test_search_keeps_answering_and_the_writer_repairs_fts_damaged_while_running(
    make_index: IndexFactory, config: IndexConfig, index: IndexWriter
) -> None:
    reader = make_index(config, writer=False)
    await reader.start()
    garble_fts(config.index_dir)
    # Readers open the damaged files fresh: they answer from vectors instead of failing.
    hits = (await reader.search("rotate credentials vault", limit=1)).results
    assert hits[0].file == "security/secrets-management.md"
    # The writer answers too and rebuilds the full-text index once a query finds it unreadable.
    assert (await index.search("vault rotate credentials", limit=1)).results
    await index._wait_idle()
    fresh = make_index(config, writer=False)
    await fresh.start()
    assert await fresh.probe_fts() is None
    assert await fresh.fts_coverage() == (5, 0)


async def test_doctor_reports_an_unreadable_fts_index(
    make_settings: Callable[..., Settings], redis_url: str, project: Path
) -> None:
    settings = make_settings(redis_url=redis_url, anthropic_api_key="sk-test")
    write(settings.standards_dir / "security" / "secrets.md", SECRETS_MD)
    writer = IndexWriter(index_config(settings), HashingEmbedder())
    await writer.start(watch=False)
    assert (await writer.wait_ready(timeout=120)).state == "ready"
    await writer.stop()
    out = io.StringIO()
    assert await run_doctor(settings, out) == 0, out.getvalue()
    assert "0 unindexed" in out.getvalue()
    garble_fts(settings.index_dir)
    out = io.StringIO()
    assert await run_doctor(settings, out) == 1
    report = out.getvalue()
    assert "[FAIL] standards index" in report
    assert "full-text index is unreadable" in report
    assert "fix: restart personas serve, or run personas index" in report
    # and the fix works: the next writer start rebuilds it
    writer = IndexWriter(index_config(settings), HashingEmbedder())
    await writer.start(watch=False)
    await writer.wait_ready(timeout=120)
    await writer.stop()
    out = io.StringIO()
    assert await run_doctor(settings, out) == 0, out.getvalue()
