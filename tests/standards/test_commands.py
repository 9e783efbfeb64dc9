"""CLI entry points with the hashing embedder."""

from __future__ import annotations

import io
import json

import pytest

from standards import HashingEmbedder, IndexConfig
from standards.index.commands import index_command, search_command


async def test_index_then_search(config: IndexConfig, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert await index_command(config, out=out, embedder=HashingEmbedder()) == 0
    assert "indexed 3 files into 5 chunks" in out.getvalue()
    assert "indexing: 3/3 files" in capsys.readouterr().err

    out = io.StringIO()
    code = await search_command(
        config, "rotate vault credentials", domain=None, limit=2, as_json=False, out=out, embedder=HashingEmbedder()
    )
    assert code == 0
    assert "project/security/secrets-management.md — Secrets Management > The rule" in out.getvalue()

    out = io.StringIO()
    code = await search_command(
        config, "unit tests", domain="testing", limit=1, as_json=True, out=out, embedder=HashingEmbedder()
    )
    data = json.loads(out.getvalue())
    assert code == 0
    assert data["results"][0]["file"] == "testing/test-pyramid.md"
    assert data["status"]["state"] == "ready"


async def test_search_empty_query_exit_code(config: IndexConfig, capsys: pytest.CaptureFixture[str]) -> None:
    code = await search_command(
        config, " ", domain=None, limit=3, as_json=False, out=io.StringIO(), embedder=HashingEmbedder()
    )
    assert code == 2
    assert "query must not be empty" in capsys.readouterr().err
