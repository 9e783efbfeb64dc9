"""A new project answers searches from the cached vectors before its table exists
(standards.index.bootstrap), with exactly the results the built table gives."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from standards import HashingEmbedder, IndexConfig, IndexWriter, StandardsSource, universal_standards_dir
from standards.index import bootstrap
from standards.index.models import SearchResponse
from tests.probe import run_probe
from tests.standards.conftest import LOGGING_MD, SECRETS_MD, IndexFactory, write

SCOPED_MD = """---
paths: ["api/**"]
tags: [api]
---
# API errors

## Bodies

Error bodies never carry stack traces; return a problem+json document with a stable code.
"""
QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("how do we rotate secrets", {}),
    ("error bodies stack traces", {}),
    ("error bodies stack traces", {"paths": ["api/users.py"]}),
    ("error bodies stack traces", {"paths": ["web/app.ts"], "limit": 10}),
    ("structured logging levels", {"domain": "development"}),
    ("vault credentials", {"tags": ["secrets"]}),
    ("code review checklist", {"source": "universal", "limit": 8}),
    ("incident response runbook", {"limit": 20}),
    ("zzqx unknownword", {}),
]


def project_config(tmp_path: Path, name: str, cache: Path | None, *, extra: str = "") -> IndexConfig:
    project = tmp_path / name / "standards"
    write(project / "security" / "secrets-management.md", SECRETS_MD)
    write(project / "development" / "logging.md", LOGGING_MD + extra)
    write(project / "api" / "errors.md", SCOPED_MD)
    return IndexConfig(
        sources=[
            StandardsSource(root=project, kind="project"),
            StandardsSource(root=universal_standards_dir(), kind="universal"),
        ],
        index_dir=tmp_path / name / "index",
        embedding_cache_dir=cache,
    )


async def fill_cache(make_index: IndexFactory, tmp_path: Path, cache: Path) -> None:
    """A first project: every chunk of these standards gets its vector into the shared cache."""
    first: IndexWriter = make_index(project_config(tmp_path, "first", cache))
    await first.start(watch=False)
    assert (await first.wait_ready(timeout=60)).state == "ready"
    await first.stop()


def outcome(response: SearchResponse) -> list[tuple[str, str, tuple[str, ...], str, list[str]]]:
    return [(h.source, h.file, tuple(h.heading_path), h.text, h.overrides) for h in response.results]


@pytest.mark.parametrize("mode", ["hybrid", "vector"])
async def test_the_startup_copy_answers_exactly_as_the_built_index(
    make_index: IndexFactory, tmp_path: Path, mode: str
) -> None:
    cache = tmp_path / "cache"
    await fill_cache(make_index, tmp_path, cache)
    config = project_config(tmp_path, "second", cache).model_copy(update={"search_mode": mode})
    embedder = HashingEmbedder()
    index: IndexWriter = make_index(config, embedder)

    await index.prepare()  # no table yet, and no LanceDB: every answer comes from the start-up copy
    early = [await index.search(query, **args) for query, args in QUERIES]
    status = index.status()
    assert embedder.embedded == [query for query, _ in QUERIES]  # only the queries: no chunk embedded
    assert (status.state, status.message) == ("ready", bootstrap.MESSAGE)
    assert status.chunks > 200  # the starters and the project's own
    assert early[0].results[0].file == "security/secrets-management.md"
    assert early[2].results[0].file == "api/errors.md"  # scoped to the given path: lifted
    assert "api/errors.md" not in [h.file for h in early[3].results]  # scoped elsewhere: left out

    await index.start(watch=False)
    assert (await index.wait_ready(timeout=60)).state == "ready"
    await index._wait_idle()
    assert index._startup is None  # the built table's copy took over
    status = index.status()
    assert status.message != bootstrap.MESSAGE
    late = [await index.search(query, **args) for query, args in QUERIES]
    assert status.chunks == early[0].status.chunks
    for (query, _), before, after in zip(QUERIES, early, late, strict=True):
        assert not after.cached
        assert outcome(before) == outcome(after), query
        assert [h.score for h in before.results] == pytest.approx([h.score for h in after.results], abs=1e-6)
    assert any(r.results for r in late)


async def test_a_few_chunks_without_a_vector_are_embedded_for_the_startup_copy(
    make_index: IndexFactory, tmp_path: Path
) -> None:
    """A new project's own standards (or an AGENTS.md) never indexed on this machine: the copy embeds
    those few chunks, alone, and puts them in the cache, where the table's build takes them."""
    cache = tmp_path / "cache"
    await fill_cache(make_index, tmp_path, cache)
    embedder = HashingEmbedder()
    config = project_config(tmp_path, "second", cache, extra="\nA rule nobody embedded: zorbify the logs.\n")
    index: IndexWriter = make_index(config, embedder)
    await index.prepare()
    assert index._startup is not None
    assert len(embedder.embedded) == 1 and "zorbify" in embedder.embedded[0]
    assert embedder.calls == 1
    query = "Levels: use ERROR when a request failed. A rule nobody embedded: zorbify the logs."
    early = await index.search(query, limit=3)
    assert early.status.message == bootstrap.MESSAGE
    assert "development/logging.md" in [h.file for h in early.results]
    await index.start(watch=False)
    assert (await index.wait_ready(timeout=60)).state == "ready"
    await index._wait_idle()
    assert len(embedder.embedded) == 2  # and the query: the build took the chunk's vector from the cache
    late = await index.search(query, limit=3)
    assert late.status.message != bootstrap.MESSAGE
    assert outcome(late) == outcome(early)
    assert [h.score for h in late.results] == pytest.approx([h.score for h in early.results], abs=1e-6)


async def test_no_startup_copy_when_many_chunks_have_no_cached_vector(make_index: IndexFactory, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    await fill_cache(make_index, tmp_path, cache)
    extra = "".join(f"\n## Rule {i}\n\nRule {i} nobody embedded.\n" for i in range(bootstrap.EMBED_AT_MOST + 1))
    embedder = HashingEmbedder()
    index: IndexWriter = make_index(project_config(tmp_path, "second", cache, extra=extra), embedder)
    await index.prepare()
    assert index._startup is None
    assert embedder.embedded == []  # the build embeds them, in batches
    early = asyncio.create_task(index.search("how do we rotate secrets"))  # waits for the table to open
    await index.start(watch=False)
    assert ((await early).results, (await early).status.state) == ([], "building")  # nothing to search yet
    assert (await index.wait_ready(timeout=60)).state == "ready"
    assert (await index.search("how do we rotate secrets")).results


async def test_an_existing_table_is_not_copied_at_start(make_index: IndexFactory, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    await fill_cache(make_index, tmp_path, cache)
    again: IndexWriter = make_index(project_config(tmp_path, "first", cache))
    await again.prepare()
    assert again._startup is None


async def test_a_search_while_an_existing_table_opens_waits_for_it(make_index: IndexFactory, tmp_path: Path) -> None:
    """A server restarted over its index: a search made while LanceDB is imported and the table
    opened (a second or more) is answered from the table once open, not with nothing."""
    cache = tmp_path / "cache"
    await fill_cache(make_index, tmp_path, cache)
    again: IndexWriter = make_index(project_config(tmp_path, "first", cache))
    await again.prepare()  # what the server does first; then LanceDB's import, then start()
    early = asyncio.create_task(again.search("how do we rotate secrets"))
    await asyncio.sleep(0.05)
    assert not early.done()
    assert (again.status().state, again.status().message) == ("building", "opening the index")
    await again.start(watch=False)
    answer = await early
    assert answer.results[0].file == "security/secrets-management.md"


async def test_a_failed_start_ends_the_wait_and_says_why(make_index: IndexFactory, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    await fill_cache(make_index, tmp_path, cache)
    again: IndexWriter = make_index(project_config(tmp_path, "first", cache))
    await again.prepare()
    early = asyncio.create_task(again.search("how do we rotate secrets"))
    await asyncio.sleep(0.05)
    again.start_failed(ImportError("No module named 'lancedb'"))
    answer = await early
    assert answer.results == []
    assert answer.status.state == "error"
    assert "No module named 'lancedb'" in answer.status.message


async def test_a_change_after_the_build_drops_the_startup_copy(make_index: IndexFactory, tmp_path: Path) -> None:
    """The copy never answers for content it does not hold: a write other than the first build ends it."""
    cache = tmp_path / "cache"
    await fill_cache(make_index, tmp_path, cache)
    config = project_config(tmp_path, "second", cache)
    index: IndexWriter = make_index(config)
    await index.prepare()
    assert index._startup is not None
    await index.start(watch=False, reconcile=False)  # no build: the copy still answers
    assert index._startup is not None
    added = write(config.sources[0].root / "security" / "tokens.md", "# Tokens\n\n## Expiry\n\nTokens expire hourly.\n")
    await index.reindex_paths([added])
    assert index._startup is None
    hits = (await index.search("tokens expire hourly", limit=1)).results
    assert hits[0].file == "security/tokens.md"


PROBE = """
import asyncio, json, sys
from pathlib import Path
from standards import HashingEmbedder, IndexConfig, IndexWriter

async def main():
    config = IndexConfig.model_validate_json(Path(sys.argv[1]).read_text())
    index = IndexWriter(config, HashingEmbedder())
    await index.prepare()
    response = await index.search("how do we rotate secrets")
    heavy = [m for m in ("lancedb", "pyarrow") if m in sys.modules]
    print(json.dumps({"heavy": heavy, "state": response.status.state, "files": [h.file for h in response.results]}))

asyncio.run(main())
"""


async def test_the_first_answer_needs_no_lancedb(make_index: IndexFactory, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    await fill_cache(make_index, tmp_path, cache)
    config_file = tmp_path / "config.json"
    config_file.write_text(project_config(tmp_path, "second", cache).model_dump_json())
    report = run_probe(PROBE, cwd=tmp_path, args=(str(config_file),))
    assert report["heavy"] == []
    assert report["state"] == "ready"
    assert report["files"][0] == "security/secrets-management.md"
