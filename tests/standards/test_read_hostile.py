"""Reading a standard by name serves only what the index holds: Markdown outside hidden folders. A
shared standards folder is a git checkout (its .git/config may carry a remote URL with a token) and
a careless PERSONAS_STANDARDS_DIR=. makes the project root a standards folder (.env beside it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from standards import IndexConfig, StandardsSource
from tests.standards.conftest import IndexFactory, write
from tests.standards.test_sources import started


async def test_only_markdown_outside_hidden_folders_is_read(tmp_path: Path, make_index: IndexFactory) -> None:
    shared = tmp_path / "org-standards"
    write(shared / "security" / "tls.md", "# TLS\n\n## Rule\n\nTLS 1.2 or newer.\n")
    write(shared / ".git" / "config", '[remote "origin"]\n\turl = https://bot:ghp_secret@github.com/org/s\n')
    write(shared / ".env", "API_KEY=live\n")
    write(shared / "notes" / "deploy.txt", "password=hunter2\n")
    (shared / "security" / "leak.md").symlink_to(shared / ".env")
    config = IndexConfig(sources=[StandardsSource(root=shared, kind="shared")], index_dir=tmp_path / "index")
    index = await started(make_index, config)

    assert "TLS 1.2" in await index.read_file("security/tls.md", "shared")
    for name in (".git/config", ".env", "notes/deploy.txt", "security/leak.md"):
        for source in ("shared", None):
            with pytest.raises(ValueError, match="not a standard"):
                await index.read_file(name, source)
