"""Fixtures for the standards index: tmp standards folders, a fake and a real embedder."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from standards import HashingEmbedder, IndexConfig, IndexReader, IndexSearcher, IndexWriter, StandardsSource
from standards.index.embedder import Embedder, SentenceTransformerEmbedder
from standards.index.models import IndexStatus

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
PLAYBOOK = SHARED / "corpus" / "engineering-playbook"

SECRETS_MD = """---
title: Secrets Management
tags: [secrets, vault]
---
# Secrets Management

Secrets never live in source control.

## The rule

Store credentials in a vault and rotate them every ninety days.

## Examples

Use the cloud key vault client to fetch the database password at startup.
"""

LOGGING_MD = """---
tags: logging, observability
---
# Logging

## Levels

Use ERROR when a request failed and someone must act. Structured JSON lines only.
"""

TESTING_MD = """# Test Pyramid

## Unit tests

Most tests are fast unit tests that run in milliseconds without a network.
"""


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    root = tmp_path / "project-standards"
    write(root / "security" / "secrets-management.md", SECRETS_MD)
    write(root / "development" / "logging.md", LOGGING_MD)
    return root


@pytest.fixture
def universal_dir(tmp_path: Path) -> Path:
    root = tmp_path / "universal"
    write(root / "testing" / "test-pyramid.md", TESTING_MD)
    return root


@pytest.fixture
def config(tmp_path: Path, project_dir: Path, universal_dir: Path) -> IndexConfig:
    return IndexConfig(
        sources=[
            StandardsSource(root=project_dir, kind="project"),
            StandardsSource(root=universal_dir, kind="universal"),
        ],
        index_dir=tmp_path / "index",
        debounce_seconds=0.05,
    )


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
async def index(config: IndexConfig, embedder: HashingEmbedder) -> AsyncIterator[IndexWriter]:
    """A started writer (no watcher), fully reconciled."""
    idx = IndexWriter(config, embedder)
    await idx.start(watch=False)
    status = await idx.wait_ready(timeout=30)
    assert status.state == "ready", status
    await idx._wait_idle()
    yield idx
    await idx.stop()


IndexFactory = Callable[..., Any]


@pytest.fixture
async def make_index() -> AsyncIterator[IndexFactory]:
    """Creates indexes that are stopped at teardown even when the test fails."""
    created: list[IndexSearcher] = []

    def make(config: IndexConfig, embedder: Embedder | None = None, *, writer: bool = True) -> IndexSearcher:
        idx: IndexSearcher = (IndexWriter if writer else IndexReader)(config, embedder or HashingEmbedder())
        created.append(idx)
        return idx

    yield make
    for idx in created:
        await idx.stop()


class ChangeWaiter:
    """Collects listener calls; ``wait_for(pred)`` waits for the index to satisfy ``pred``."""

    def __init__(self, index: IndexSearcher) -> None:
        self.changes: list[list[str]] = []
        self._event = asyncio.Event()
        index.add_listener(self._on_change)

    def _on_change(self, files: list[str]) -> None:
        self.changes.append(files)
        self._event.set()

    async def wait_for(self, check: Callable[[], object], timeout: float = 60.0) -> None:
        async def loop() -> None:
            while True:
                self._event.clear()
                result = check()
                if asyncio.iscoroutine(result):
                    result = await result
                if result:
                    return
                await self._event.wait()

        await asyncio.wait_for(loop(), timeout)


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2, loaded once per test session."""
    embedder = SentenceTransformerEmbedder()
    embedder.load()
    return embedder


@pytest.fixture
def playbook() -> Path:
    if not PLAYBOOK.is_dir():
        pytest.skip(f"shared corpus not found at {PLAYBOOK} (expected ../shared beside the repo)")
    return PLAYBOOK


async def failed_start_warnings(
    tmp_path: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> tuple[IndexStatus, list[logging.LogRecord]]:
    """Start a writer over one standard with ``embedder`` (whose model cannot load), as the server
    does (prepare, start, wait), and return its status and the warnings and errors it logged."""
    standards = tmp_path / "standards"
    (standards / "security").mkdir(parents=True)
    (standards / "security" / "tokens.md").write_text("# Tokens\n\nTokens expire hourly.\n", encoding="utf-8")
    config = IndexConfig(sources=[StandardsSource(root=standards, kind="project")], index_dir=tmp_path / "index")
    writer = IndexWriter(config, embedder)
    with caplog.at_level(logging.WARNING, logger="standards"):
        await writer.prepare()
        await writer.start(watch=False)
        status = await writer.wait_ready(timeout=60)
        await writer._wait_idle()
        await writer.stop()
    return status, [r for r in caplog.records if r.levelno >= logging.WARNING]
