"""A standards folder pointed at a huge tree (``PERSONAS_STANDARDS_DIR=.`` over ``node_modules``, a
shared checkout with 100k files) is walked to a bound: heavy folders are skipped, the walk stops at
the file cap with a warning naming the folder and the fix, and status and doctor say it was cut."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from mcp_server.doctor_sources import source_checks
from mcp_server.settings import Settings
from standards import IndexConfig, IndexWriter, StandardsSource
from standards.index.sources import discover
from standards.index.walk import WalkCuts
from tests.standards.conftest import IndexFactory, write


def tree(root: Path, markdown: int) -> Path:
    for i in range(markdown):
        write(root / f"d{i % 3}" / f"rule-{i:02d}.md", f"# Rule {i}\n\nText {i}.\n")
    write(root / "node_modules" / "pkg" / "README.md", "# A package readme\n")
    write(root / "d0" / "node_modules" / "deep" / "CHANGELOG.md", "# A changelog\n")
    write(root / ".venv" / "lib" / "x.md", "# Hidden\n")
    return root


def test_heavy_folders_are_skipped_and_the_walk_stops_at_the_cap(tmp_path: Path) -> None:
    root = tree(tmp_path / "std", 8)
    sources = [StandardsSource(root=root, kind="project")]

    cuts = WalkCuts()
    everything = discover(sources, cuts=cuts)
    assert sorted(f.file for f in everything) == sorted(f"d{i % 3}/rule-{i:02d}.md" for i in range(8))
    assert cuts.messages == []

    capped = discover(sources, max_files=5, cuts=cuts)
    assert len(capped) == 5
    (message,) = cuts.messages
    assert str(root.resolve()) in message and "more than 5 Markdown files" in message
    assert "PERSONAS_STANDARDS_DIR" in message and "PERSONAS_STANDARDS_MAX_FILES" in message


async def test_the_index_status_says_the_walk_was_cut_and_warns_once(
    make_index: IndexFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tree(tmp_path / "std", 6)
    config = IndexConfig(
        sources=[StandardsSource(root=root, kind="project")], index_dir=tmp_path / "index", max_walk_files=4
    )
    index: IndexWriter = make_index(config)
    with caplog.at_level(logging.WARNING, logger="standards"):
        await index.start(watch=False)
        assert (await index.wait_ready(timeout=30)).state == "ready"
        await index._wait_idle()
        await index.rebuild()
    (cut,) = index.status().walk_cut
    assert str(root.resolve()) in cut and "more than 4 Markdown files" in cut
    assert index.status().files_indexed == 4
    warned = [r for r in caplog.records if "walk stopped" in r.getMessage()]
    assert len(warned) == 1, [r.getMessage() for r in warned]


def test_doctor_says_the_walk_was_cut_with_the_fix(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    root = tree(tmp_path / "std", 6)
    checks = source_checks(make_settings(standards_dir=root, standards_max_files=3, rules_discovery=False))
    project = next(c for c in checks if c.name == "project standards")
    assert not project.ok and project.warning
    assert "only 3 Markdown file(s) taken" in project.detail and str(root.resolve()) in project.detail
    assert "PERSONAS_STANDARDS_MAX_FILES" in project.fix
