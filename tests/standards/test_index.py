"""IndexWriter and IndexReader with the hashing embedder: build, incremental updates, filters, cache, readers."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from standards import HashingEmbedder, IndexConfig, IndexWriter, StandardsSource, universal_standards_dir
from standards.index.sources import ReadResult, SourceFile
from standards.index.store import build_filter
from tests.standards.conftest import SECRETS_MD, ChangeWaiter, IndexFactory, write


async def files_for(index: IndexWriter, query: str, **kwargs: object) -> list[str]:
    response = await index.search(query, limit=10, **kwargs)  # type: ignore[arg-type]
    return [hit.file for hit in response.results]


async def test_search_returns_metadata(index: IndexWriter) -> None:
    response = await index.search("rotate credentials vault", limit=3)
    assert response.status.state == "ready"
    assert not response.cached
    top = response.results[0]
    assert top.file == "security/secrets-management.md"
    assert top.source == "project"
    assert top.domain == "security"
    assert top.heading_path == ["Secrets Management", "The rule"]
    assert top.tags == ["secrets", "vault"]
    assert "rotate" in top.text
    assert 0 < top.score <= 1.0
    assert [h.score for h in response.results] == sorted((h.score for h in response.results), reverse=True)


async def test_status_counts(index: IndexWriter) -> None:
    status = index.status()
    assert status.state == "ready"
    assert status.files_total == 3
    assert status.files_indexed == 3
    assert status.chunks == 5
    assert status.last_updated is not None


@pytest.mark.parametrize("query", ["", "   \n"])
async def test_empty_query_is_rejected(index: IndexWriter, query: str) -> None:
    with pytest.raises(ValueError, match="query must not be empty"):
        await index.search(query)


async def test_filters(index: IndexWriter) -> None:
    assert set(await files_for(index, "tests logging secrets", domain="testing")) == {"testing/test-pyramid.md"}
    assert set(await files_for(index, "tests logging secrets", source="universal")) == {"testing/test-pyramid.md"}
    assert set(await files_for(index, "tests logging secrets", tags=["Observability"])) == {"development/logging.md"}
    # tags=[a, b] means files carrying ALL of them, as the tool says (not either of them)
    assert await files_for(index, "tests logging secrets", tags=["vault", "logging"]) == []
    assert set(await files_for(index, "tests logging secrets", tags=["Logging", "observability"])) == {
        "development/logging.md"
    }
    assert set(await files_for(index, "tests logging secrets", tags=["secrets", "vault"])) == {
        "security/secrets-management.md"
    }
    assert await files_for(index, "tests logging secrets", domain="security", tags=["logging"]) == []
    with pytest.raises(ValueError, match="invalid domain"):
        await files_for(index, "secrets", domain="security' OR 'a'='a")


def test_filter_values_are_escaped_literals() -> None:
    expr = build_filter(domain="it's", source="project", tags=["c#", "o'neil"])
    assert expr is not None
    sql = expr.to_sql()
    assert "'it''s'" in sql
    assert "'|o''neil|'" in sql
    assert build_filter(domain=None, source=None, tags=None) is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"source": "other"}, "source must be"),
        ({"domain": "x" * 200}, "invalid domain"),
        ({"tags": ["a|b"]}, "invalid tag"),
        ({"tags": ["bad\nline"]}, "invalid tag"),
        ({"limit": 0}, "limit must be"),
    ],
)
async def test_invalid_filters_rejected(index: IndexWriter, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        await index.search("secrets", **kwargs)  # type: ignore[arg-type]


async def test_cache_hit_and_invalidation(index: IndexWriter, project_dir: Path, embedder: HashingEmbedder) -> None:
    first = await index.search("structured logging levels")
    calls = embedder.calls
    second = await index.search("structured logging levels")
    assert second.cached and not first.cached
    assert second.results == first.results
    assert embedder.calls == calls  # not even the query was embedded again
    write(project_dir / "development" / "logging.md", "# Logging\n\n## Levels\n\nStructured logging levels: zebra.\n")
    await index.reindex_paths([project_dir / "development" / "logging.md"])
    third = await index.search("structured logging levels")
    assert not third.cached
    assert "zebra" in third.results[0].text


async def test_unchanged_files_not_reembedded_on_restart(
    make_index: IndexFactory, config: IndexConfig, index: IndexWriter
) -> None:
    await index.stop()
    fresh = HashingEmbedder()
    again = make_index(config, fresh)
    await again.start(watch=False)
    status = await again.wait_ready(timeout=30)
    assert status.state == "ready"
    assert status.chunks == 5
    assert fresh.texts_embedded == 0
    await again.stop()


async def test_edit_reembeds_only_changed_chunks(
    index: IndexWriter, project_dir: Path, embedder: HashingEmbedder
) -> None:
    before = embedder.texts_embedded
    path = project_dir / "security" / "secrets-management.md"
    write(path, SECRETS_MD.replace("ninety days", "thirty days"))
    await index.reindex_paths([path])
    assert embedder.texts_embedded - before == 1
    assert "thirty" in (await index.search("rotate credentials vault", limit=1)).results[0].text
    # touching the file without a content change embeds nothing
    before = embedder.texts_embedded
    write(path, path.read_text())
    await index.reindex_paths([path, project_dir / "development" / "logging.md"])
    assert embedder.texts_embedded == before


async def test_startup_reconciles_changes_made_while_down(
    make_index: IndexFactory, config: IndexConfig, index: IndexWriter, project_dir: Path
) -> None:
    await index.stop()
    (project_dir / "development" / "logging.md").unlink()
    write(project_dir / "operations" / "runbooks.md", "# Runbooks\n\nEvery alert links a runbook.\n")
    fresh = HashingEmbedder()
    again = make_index(config, fresh)
    await again.start(watch=False)
    await again.wait_ready(timeout=30)
    files = {f.file for f in await again.list_files()}
    assert files == {"security/secrets-management.md", "operations/runbooks.md", "testing/test-pyramid.md"}
    assert fresh.texts_embedded == 1
    assert "development/logging.md" not in await files_for(again, "structured logging levels error")
    await again.stop()


async def test_delete_and_rename_leave_no_ghosts(index: IndexWriter, project_dir: Path) -> None:
    old = project_dir / "security" / "secrets-management.md"
    new = project_dir / "security" / "secrets.md"
    changes = ChangeWaiter(index)
    old.rename(new)
    await index.reindex_paths([old, new])
    assert changes.changes == [["security/secrets-management.md", "security/secrets.md"]]
    found = await files_for(index, "vault rotate credentials secrets")
    assert "security/secrets.md" in found
    assert "security/secrets-management.md" not in found
    new.unlink()
    await index.reindex_paths([new])
    assert not any("secrets" in f for f in await files_for(index, "vault rotate credentials secrets"))
    assert {f.file for f in await index.list_files()} == {"development/logging.md", "testing/test-pyramid.md"}


async def test_folder_rename_and_delete(index: IndexWriter, project_dir: Path) -> None:
    (project_dir / "security").rename(project_dir / "sec")
    await index.reindex_paths([project_dir / "security", project_dir / "sec"])
    files = {(f.file, f.domain) for f in await index.list_files()}
    assert ("sec/secrets-management.md", "sec") in files
    assert not any(f.startswith("security/") for f, _ in files)
    for child in (project_dir / "sec").iterdir():
        child.unlink()
    (project_dir / "sec").rmdir()
    await index.reindex_paths([project_dir / "sec"])
    assert not any(f.startswith("sec/") for f, _ in {(f.file, f.domain) for f in await index.list_files()})


async def test_bad_files_are_skipped_with_warnings(
    make_index: IndexFactory, config: IndexConfig, project_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(project_dir / "bad" / "binary.md", b"# Bin\n\x00\x01\x02")
    write(project_dir / "bad" / "latin1.md", "# Caf\xe9\n\nBody.\n".encode("latin-1"))
    write(project_dir / "bad" / "huge.md", "# Huge\n\n" + "word " * 300)
    write(project_dir / "bad" / "front.md", "---\ntags: [oops\n---\n# Front\n\nGood body about kittens.\n")
    outside = write(tmp_path / "outside" / "secret.md", "# Outside\n\nTop secret kittens.\n")
    (project_dir / "bad" / "link.md").symlink_to(outside)
    (project_dir / "bad" / "loop.md").symlink_to(project_dir / "bad" / "loop.md")
    config = config.model_copy(update={"max_file_bytes": 1000})
    index = make_index(config, HashingEmbedder())
    with caplog.at_level(logging.WARNING, logger="standards"):
        await index.start(watch=False)
        status = await index.wait_ready(timeout=30)
    assert status.state == "ready"
    files = {f.file: f for f in await index.list_files()}
    assert "bad/front.md" in files
    assert files["bad/front.md"].tags == []
    for name in ("binary", "latin1", "huge", "link", "loop"):
        assert f"bad/{name}.md" not in files
    messages = "\n".join(r.getMessage() for r in caplog.records)
    for name, reason in [
        ("binary", "binary"),
        ("latin1", "invalid UTF-8"),
        ("huge", "larger than 1000 bytes"),
        ("link", "outside the standards root"),
        ("front", "malformed front matter"),
        ("loop", "bad/loop.md"),
    ]:
        assert any(f"bad/{name}.md" in line and reason in line for line in messages.splitlines()), name
    assert "Top secret" not in str([h.text for h in (await index.search("kittens", limit=10)).results])
    await index.stop()


async def test_vanished_or_bad_file_drops_old_chunks(index: IndexWriter, project_dir: Path) -> None:
    path = project_dir / "development" / "logging.md"
    write(path, b"\xff\xfe not utf8")
    await index.reindex_paths([path])
    assert "development/logging.md" not in {f.file for f in await index.list_files()}


async def test_corrupt_index_is_rebuilt(
    make_index: IndexFactory, config: IndexConfig, index: IndexWriter, caplog: pytest.LogCaptureFixture
) -> None:
    await index.stop()
    for path in (config.index_dir / "lancedb").rglob("*"):
        if path.is_file():
            path.write_bytes(b"garbage")
    again = make_index(config, HashingEmbedder())
    with caplog.at_level(logging.WARNING, logger="standards"):
        await again.start(watch=False)
        status = await again.wait_ready(timeout=30)
    assert status.state == "ready"
    assert status.chunks == 5
    assert any("rebuilding" in r.getMessage() for r in caplog.records)
    assert (await again.search("vault", limit=1)).results
    await again.stop()


async def test_reader_sees_writer_updates(
    make_index: IndexFactory, config: IndexConfig, index: IndexWriter, project_dir: Path
) -> None:
    reader = make_index(config, HashingEmbedder(), writer=False)
    await reader.start()
    assert (await reader.wait_ready(timeout=60)).state == "ready"
    before = await reader.search("platypus migration", limit=3)
    assert all("platypus" not in h.text for h in before.results)
    again = await reader.search("platypus migration", limit=3)
    assert again.cached
    write(project_dir / "data" / "migrations.md", "# Migrations\n\nThe platypus migration runs backwards.\n")
    await index.reindex_paths([project_dir / "data" / "migrations.md"])
    after = await reader.search("platypus migration", limit=3)
    assert not after.cached
    assert after.results[0].file == "data/migrations.md"
    # a reader hands re-index work to the writer and returns once it is done
    write(project_dir / "data" / "backfill.md", "# Backfill\n\nThe wombat backfill runs nightly.\n")
    await reader.reindex_paths([project_dir / "data" / "backfill.md"])
    assert (await reader.search("wombat backfill", limit=1)).results[0].file == "data/backfill.md"
    await reader.stop()


async def test_reader_before_any_build(make_index: IndexFactory, config: IndexConfig) -> None:
    reader = make_index(config, HashingEmbedder(), writer=False)
    await reader.start()
    response = await reader.search("anything")
    assert response.results == []
    assert response.status.state == "empty"
    assert not (config.index_dir / "lancedb").exists()
    await reader.stop()


class GatedEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def embed(self, texts: list[str]) -> list[list[float]]:
        assert self.gate.wait(10)
        return super().embed(texts)


async def test_status_while_building(make_index: IndexFactory, config: IndexConfig) -> None:
    embedder = GatedEmbedder()
    index = make_index(config, embedder)
    await index.start(watch=False)
    assert index.status().state == "building"
    pending = await index.wait_ready(timeout=0.05)
    assert pending.state == "building"
    embedder.gate.set()
    response = await index.search("vault")  # query embedding passes the gate too
    assert response.status.state in ("building", "ready")
    status = await index.wait_ready(timeout=30)
    assert status.state == "ready"
    assert (status.files_indexed, status.files_total) == (3, 3)
    await index.stop()


async def test_empty_sources(make_index: IndexFactory, tmp_path: Path) -> None:
    config = IndexConfig(sources=[StandardsSource(root=tmp_path / "none", kind="project")], index_dir=tmp_path / "ix")
    index = make_index(config, HashingEmbedder())
    await index.start(watch=False)
    status = await index.wait_ready(timeout=60)
    assert status.state == "empty"
    response = await index.search("anything")
    assert response.results == []
    assert response.status.message == "no standards found"
    await index.stop()


async def test_query_counts_persist(make_index: IndexFactory, config: IndexConfig, index: IndexWriter) -> None:
    await index.search("rotate credentials vault", limit=1)
    await index.search("rotate credentials vault", limit=1)  # cached hits count too
    await index.stop()
    again = make_index(config, HashingEmbedder())
    await again.start(watch=False)
    counts = {f.file: f.query_count for f in await again.list_files()}
    assert counts["security/secrets-management.md"] == 2
    assert counts["testing/test-pyramid.md"] == 0
    await again.stop()


async def test_list_and_read_files(index: IndexWriter, project_dir: Path, tmp_path: Path) -> None:
    listed = {(f.source, f.file): f for f in await index.list_files()}
    assert listed["project", "security/secrets-management.md"].title == "Secrets Management"
    assert listed["universal", "testing/test-pyramid.md"].domain == "testing"
    assert listed["project", "development/logging.md"].tags == ["logging", "observability"]
    assert (await index.read_file("security/secrets-management.md")) == SECRETS_MD
    assert "Test Pyramid" in await index.read_file("testing/test-pyramid.md", source="universal")
    write(tmp_path / "elsewhere.md", "nope")
    (project_dir / "escape.md").symlink_to(tmp_path / "elsewhere.md")
    for bad in ["../elsewhere.md", "/etc/passwd", "escape.md", "security/../../elsewhere.md"]:
        with pytest.raises(ValueError, match=r"outside|not a path inside"):
            await index.read_file(bad)
    with pytest.raises(FileNotFoundError):
        await index.read_file("security/missing.md")
    with pytest.raises(FileNotFoundError):
        await index.read_file("security/secrets-management.md", source="universal")


async def test_watcher_makes_new_files_searchable(
    make_index: IndexFactory, config: IndexConfig, project_dir: Path
) -> None:
    index = make_index(config, HashingEmbedder())
    await index.start(watch=True)
    await index.wait_ready(timeout=30)
    changes = ChangeWaiter(index)

    async def found(word: str) -> bool:
        return any(word in h.text for h in (await index.search(word, limit=3)).results)

    write(project_dir / "api" / "pagination.md", "# Pagination\n\nUse opaque cursors, never offsets: okapi.\n")
    await changes.wait_for(lambda: found("okapi"), timeout=60)
    (project_dir / "api" / "pagination.md").unlink()
    await changes.wait_for(lambda: _not(found("okapi")), timeout=60)
    await index.stop()


async def _not(result: object) -> bool:
    return not await result  # type: ignore[misc]


def test_universal_standards_dir_ships_markdown() -> None:
    root = universal_standards_dir()
    assert root.is_dir()
    assert root.name == "universal"


async def test_file_vanishing_mid_read_is_skipped(
    index: IndexWriter, project_dir: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from standards.index.sources import read_standard as real_read

    def vanish(sf: SourceFile, *, max_bytes: int, salt: str) -> ReadResult:
        if sf.file == "development/logging.md":
            sf.path.unlink()
            raise FileNotFoundError(sf.path)
        return real_read(sf, max_bytes=max_bytes, salt=salt)

    monkeypatch.setattr("standards.index.indexer.read_standard", vanish)
    path = project_dir / "development" / "logging.md"
    write(path, "# Logging\n\nChanged.\n")
    with caplog.at_level(logging.WARNING, logger="standards"):
        await index.reindex_paths([path])
    assert any("vanished" in r.getMessage() and "logging.md" in r.getMessage() for r in caplog.records)
    assert "development/logging.md" not in {f.file for f in await index.list_files()}


async def test_reader_survives_writer_rebuilding_a_corrupt_index(
    make_index: IndexFactory, config: IndexConfig, index: IndexWriter
) -> None:
    reader = make_index(config, writer=False)
    await reader.start()
    assert (await reader.search("vault", limit=1)).results
    await index.stop()
    for path in (config.index_dir / "lancedb").rglob("*"):
        if path.is_file():
            path.write_bytes(b"garbage")
    writer = make_index(config)
    await writer.start(watch=False)
    assert (await writer.wait_ready(timeout=30)).state == "ready"
    response = await reader.search("vault rotate", limit=1)
    assert response.results[0].file == "security/secrets-management.md"


async def test_hidden_files_are_not_indexed(index: IndexWriter, project_dir: Path) -> None:
    hidden = write(project_dir / ".drafts" / "draft.md", "# Draft\n\nNot yet.\n")
    await index.reindex_paths([hidden, hidden.parent])
    assert ".drafts/draft.md" not in {f.file for f in await index.list_files()}


async def test_index_dir_replaced_by_a_file_is_rebuilt(make_index: IndexFactory, config: IndexConfig) -> None:
    write(config.index_dir / "lancedb", b"not a database")
    index = make_index(config)
    await index.start(watch=False)
    assert (await index.wait_ready(timeout=30)).state == "ready"
    assert (await index.search("vault", limit=1)).results
