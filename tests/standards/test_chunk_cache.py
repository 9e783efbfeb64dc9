"""How the starter standards were chunked is kept in the shared embedding cache: a new project's
start-up copy reuses it (the same rows as chunking again), an edited starter is chunked again, and
what JSON cannot give back unchanged is never cached. The table's build waits for the start-up
copy's first answer, bounded."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import standards.index.indexer as indexer_module
from standards import HashingEmbedder, IndexConfig, IndexWriter, StandardsSource
from standards.index import bootstrap, chunk_cache
from standards.index.chunker import Chunk, ParsedDocument
from standards.index.indexer import Indexer
from standards.index.sources import discover
from standards.index.vector_cache import VectorCache, model_fingerprint
from tests.standards.conftest import LOGGING_MD, SECRETS_MD, IndexFactory, write
from tests.standards.test_startup_copy import fill_cache, project_config

HANG_BOUND = 60.0  # seconds: never reached when the code works


def _parsed(metadata: dict[Any, Any]) -> ParsedDocument:
    return ParsedDocument(
        title="Secrets",
        tags=["secrets"],
        metadata=metadata,
        chunks=[Chunk(("Secrets", "Rotation"), "Rotate every 90 days.", 9), Chunk((), "Intro.", 2)],
        warnings=["a warning"],
    )


def test_a_chunking_with_front_matter_dates_comes_back_unchanged() -> None:
    parsed = _parsed({"updated": date(2024, 5, 1), "at": datetime(2024, 5, 1, 9, 30, tzinfo=UTC), "n": [1, 2.5]})
    encoded = chunk_cache.encode(parsed)
    assert encoded is not None
    assert chunk_cache.decode(encoded) == parsed


def test_the_chunks_token_counts_come_back_and_older_entries_have_none() -> None:
    encoded = chunk_cache.encode(_parsed({}))
    assert encoded is not None
    decoded = chunk_cache.decode(encoded)
    assert decoded is not None and [chunk.tokens for chunk in decoded.chunks] == [9, 2]
    older = '{"title": "T", "tags": [], "metadata": {}, "chunks": [[["T"], "Intro."]], "warnings": []}'
    assert chunk_cache.decode(older) == ParsedDocument("T", [], {}, [Chunk(("T",), "Intro.")])
    assert [chunk.tokens for chunk in chunk_cache.decode(older).chunks] == [None]  # type: ignore[union-attr]


def test_what_json_cannot_give_back_is_not_cached() -> None:
    assert chunk_cache.encode(_parsed({1: "an integer key"})) is None
    assert chunk_cache.encode(_parsed({"when": {1, 2}})) is None


@pytest.mark.parametrize(
    "stored", ["not json", "[]", '{"title": 1, "tags": [], "metadata": {}, "chunks": [], "warnings": []}']
)
def test_a_damaged_entry_is_a_miss(stored: str) -> None:
    assert chunk_cache.decode(stored) is None


def _starters(tmp_path: Path, cache: Path, secrets: str = SECRETS_MD) -> IndexConfig:
    """A starters folder of our own (source 'universal'), so a test can edit a starter."""
    starters = tmp_path / "starters"
    write(starters / "security" / "secrets-management.md", secrets)
    write(starters / "development" / "logging.md", LOGGING_MD)
    return IndexConfig(
        sources=[StandardsSource(root=starters, kind="universal")],
        index_dir=tmp_path / "index",
        embedding_cache_dir=cache,
    )


def _rows(config: IndexConfig, *, cached: bool) -> list[dict[str, Any]]:
    embedder = HashingEmbedder()
    indexer = Indexer(None, embedder, max_file_bytes=config.max_file_bytes)  # type: ignore[arg-type]
    if cached:
        assert config.embedding_cache_dir is not None
        indexer.vector_cache = VectorCache(config.embedding_cache_dir, model_fingerprint(embedder), embedder.dimension)
    return indexer.rows_of(discover(config.sources, max_files=config.max_walk_files))


def test_cached_chunkings_give_the_rows_chunking_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _starters(tmp_path, tmp_path / "cache")
    fresh = _rows(config, cached=False)
    assert _rows(config, cached=True) == fresh  # the first project: chunked and cached

    def no_chunking(*args: Any, **kwargs: Any) -> ParsedDocument:
        raise AssertionError("a cached starter was chunked again")

    monkeypatch.setattr(indexer_module, "chunk_markdown", no_chunking)
    assert _rows(config, cached=True) == fresh  # the next project: nothing chunked


def test_an_edited_starter_is_chunked_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _rows(_starters(tmp_path, cache), cached=True)
    edited = _starters(tmp_path, cache, secrets=SECRETS_MD + "\n## Audits\n\nEvery secret access is logged.\n")
    rows = _rows(edited, cached=True)
    assert rows == _rows(edited, cached=False)
    assert any("Every secret access is logged." in row["text"] for row in rows)


async def test_the_tables_build_waits_for_the_start_up_copys_first_answer(
    make_index: IndexFactory, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    await fill_cache(make_index, tmp_path, cache)
    index: IndexWriter = make_index(project_config(tmp_path, "second", cache))
    await index.prepare()
    assert index._startup is not None
    waiting = asyncio.create_task(index.startup_answered())
    await asyncio.sleep(0)
    assert not waiting.done()  # only an answer (or BUILD_WAIT_SECONDS, far longer than this) ends it
    assert (await index.search("how do we rotate secrets")).results
    await asyncio.wait_for(waiting, HANG_BOUND)


async def test_without_an_answer_the_build_starts_after_a_bound(
    make_index: IndexFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    await fill_cache(make_index, tmp_path, cache)
    monkeypatch.setattr(bootstrap, "BUILD_WAIT_SECONDS", 0.05)
    index: IndexWriter = make_index(project_config(tmp_path, "second", cache))
    await index.prepare()
    assert index._startup is not None
    await asyncio.wait_for(index.startup_answered(), HANG_BOUND)
    assert not index._startup.answered.is_set()
