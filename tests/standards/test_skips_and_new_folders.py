"""One huge file cannot stall the index (chunk cap, skipped with the reason); skipped files are listed
in the index status; folders created after start (a new domain, or the whole standards root of a
new project) are watched and their files become searchable."""

from __future__ import annotations

import io
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mcp_server.settings import Settings
from standards import HashingEmbedder, IndexConfig, IndexWriter, StandardsSource
from standards.index.indexer import MAX_CHUNKS_PER_FILE
from tests.conftest import wait_for
from tests.standards.conftest import IndexFactory, write


def huge_markdown(headings: int = 100_000) -> str:
    return "".join(f"# Heading {i}\n\nline {i}\n\n" for i in range(headings))


async def _found(index: IndexWriter, query: str, file: str) -> bool:
    return file in {hit.file for hit in (await index.search(query, limit=5)).results}


async def test_a_huge_file_is_skipped_and_does_not_block_other_changes(
    make_index: IndexFactory, config: IndexConfig, project_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    embedder = HashingEmbedder()
    index: IndexWriter = make_index(config.model_copy(update={"max_file_bytes": 4_000_000}), embedder)
    await index.start(watch=True)
    assert (await index.wait_ready(timeout=30)).state == "ready"
    with caplog.at_level(logging.WARNING, logger="standards"):
        write(project_dir / "big" / "huge.md", huge_markdown())
        write(project_dir / "api" / "paging.md", "# Paging\n\nUse opaque cursors: okapi.\n")
        await wait_for(lambda: _found(index, "okapi cursors", "api/paging.md"), timeout=60, what="the small file")

        async def skipped() -> bool:
            return any(f.file == "big/huge.md" for f in index.status().skipped)

        await wait_for(skipped, timeout=60, what="the huge file to be reported skipped")
    entry = next(f for f in index.status().skipped if f.file == "big/huge.md")
    assert entry.source == "project"
    assert f"more than {MAX_CHUNKS_PER_FILE} per file" in entry.reason
    assert "big/huge.md" not in {f.file for f in await index.list_files()}
    assert embedder.texts_embedded < MAX_CHUNKS_PER_FILE  # none of its chunks were embedded
    assert any("big/huge.md" in r.getMessage() and "per file" in r.getMessage() for r in caplog.records)
    # fixing the file removes it from the skipped list and indexes it
    write(project_dir / "big" / "huge.md", "# Huge no more\n\n## Rule\n\nSmall now: quokka.\n")
    await wait_for(lambda: _found(index, "quokka small", "big/huge.md"), timeout=30, what="the fixed file")
    assert index.status().skipped == []


async def test_skipped_files_are_listed_in_the_status_for_readers_too(
    make_index: IndexFactory, config: IndexConfig, project_dir: Path
) -> None:
    write(project_dir / "bad" / "binary.md", b"# Bin\n\x00\x01")
    write(project_dir / "bad" / "latin1.md", "# Caf\xe9\n".encode("latin-1"))
    index: IndexWriter = make_index(config)
    await index.start(watch=False)
    status = await index.wait_ready(timeout=30)
    assert {(f.file, f.reason) for f in status.skipped} == {
        ("bad/binary.md", "binary content"),
        ("bad/latin1.md", "invalid UTF-8 at byte 5: save it as UTF-8 (e.g. iconv -f latin1 -t utf-8 FILE > FILE.new)"),
    }
    assert status.skipped_total == 2
    await index._wait_idle()
    reader = make_index(config, writer=False)
    await reader.start()
    assert {f.file for f in reader.status().skipped} == {"bad/binary.md", "bad/latin1.md"}


async def test_a_domain_folder_created_after_start_is_watched(
    make_index: IndexFactory, config: IndexConfig, project_dir: Path
) -> None:
    index: IndexWriter = make_index(config)
    await index.start(watch=True)
    await index.wait_ready(timeout=30)
    folder = project_dir / "payments"
    folder.mkdir()
    write(folder / "refunds.md", "# Refunds\n\nRefunds go back to the original card: wallaby.\n")
    await wait_for(lambda: _found(index, "wallaby refunds", "payments/refunds.md"), timeout=30, what="new domain")
    write(folder / "nested" / "disputes.md", "# Disputes\n\nDisputes answer within a day: bilby.\n")
    await wait_for(lambda: _found(index, "bilby disputes", "payments/nested/disputes.md"), timeout=30, what="nested")


async def test_a_standards_root_created_after_start_is_watched(make_index: IndexFactory, tmp_path: Path) -> None:
    project = tmp_path / "fresh-project"
    project.mkdir()
    root = project / ".agent-os" / "standards"
    config = IndexConfig(
        sources=[StandardsSource(root=root, kind="project")], index_dir=tmp_path / "ix", debounce_seconds=0.05
    )
    index: IndexWriter = make_index(config)
    await index.start(watch=True)
    assert (await index.wait_ready(timeout=30)).state == "empty"
    write(root / "security" / "tokens.md", "# Tokens\n\nTokens expire in fifteen minutes: numbat.\n")
    await wait_for(lambda: _found(index, "numbat tokens", "security/tokens.md"), timeout=30, what="the new root")
    shutil.rmtree(project / ".agent-os")
    await wait_for(lambda: _absent(index), timeout=30, what="the deleted root to be dropped")
    write(root / "ops" / "alerts.md", "# Alerts\n\nEvery alert has a runbook: potoroo.\n")
    await wait_for(lambda: _found(index, "potoroo alerts", "ops/alerts.md"), timeout=30, what="the re-created root")


async def _absent(index: IndexWriter) -> bool:
    return not await index.list_files()


async def test_skipped_files_are_shown_by_doctor_and_a_resource(
    make_settings: Callable[..., Settings], redis_url: str, project: Path
) -> None:
    import json

    from mcp import Client

    from mcp_server.doctor import run_doctor
    from mcp_server.server import build_server

    settings = make_settings(redis_url=redis_url, anthropic_api_key="sk-test")
    write(settings.standards_dir / "bad" / "binary.md", b"# Bin\n\x00\x01")
    async with Client(build_server(settings, run_worker=False)) as client:

        async def listed() -> list[dict[str, str]] | None:
            body = await client.read_resource("personas://index/status")
            status = json.loads(body.contents[0].text)  # type: ignore[union-attr]
            return status["skipped"] if status["state"] == "ready" else None

        skipped = await wait_for(listed, timeout=120, what="the index to be ready")
        only = await client.read_resource("personas://index/status?detail=skipped")
    expected = {"file": "bad/binary.md", "source": "project", "reason": "binary content"}
    assert skipped == [expected]
    assert json.loads(only.contents[0].text) == [expected]  # type: ignore[union-attr]
    out = io.StringIO()
    await run_doctor(settings, out)
    assert "1 files skipped (project/bad/binary.md: binary content)" in out.getvalue()


async def test_search_answers_count_skipped_files_without_listing_them(
    make_index: IndexFactory, config: IndexConfig, project_dir: Path
) -> None:
    write(project_dir / "bad" / "binary.md", b"# Bin\n\x00\x01")
    index: IndexWriter = make_index(config)
    await index.start(watch=False)
    await index.wait_ready(timeout=30)
    status = (await index.search("vault", limit=1)).status
    assert (status.skipped_total, status.skipped) == (1, [])
    assert [f.file for f in index.status().skipped] == ["bad/binary.md"]
