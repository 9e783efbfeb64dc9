"""Fixtures for persona-runtime tests: a small project tree, personas, LLM config for the fake API."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from personas.model import PersonaDefinition
from personas.registry import PersonaRegistry
from personas.runtime import LLMConfig, RunLimits, RunToolbox
from tests.fakes.anthropic_api import FakeAnthropic
from tests.personas.helpers import FakeSearch

LOGIN_PY = """\
import jwt


def login(token):
    claims = jwt.decode(token, options={"verify_signature": False})
    return claims["sub"]
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A project with code, a binary, a big file, a secret and a symlink leading out of the root."""
    root = tmp_path / "repo"
    (root / "api").mkdir(parents=True)
    (root / "api" / "login.py").write_text(LOGIN_PY)
    (root / "api" / "util.py").write_text("def helper():\n    return 1\n")
    (root / "README.md").write_text("# Demo\n")
    (root / "image.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    (root / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (root / "huge.txt").write_text("x" * 5_000)
    (root / ".env").write_text("API_KEY=sk-live-SECRET\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[remote]\nurl = https://token@example.com\n")
    (root / "node_modules" / "pkg").mkdir(parents=True)
    (root / "node_modules" / "pkg" / "index.js").write_text("module.exports = 1\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP-SECRET-OUTSIDE\n")
    os.symlink(outside / "secret.txt", root / "link_out.txt")
    os.symlink(outside, root / "dir_out")
    os.symlink(root / "api" / "util.py", root / "link_in.py")
    return root


@pytest.fixture(scope="session")
def registry() -> PersonaRegistry:
    return PersonaRegistry.load()


@pytest.fixture
def security(registry: PersonaRegistry) -> PersonaDefinition:
    return registry.get("security")


@pytest.fixture
def llm(fake_api: FakeAnthropic) -> LLMConfig:
    return LLMConfig(api_key="sk-test", base_url=fake_api.base_url, max_retries=0, timeout_seconds=10)


@pytest.fixture
def search() -> FakeSearch:
    return FakeSearch()


@pytest.fixture
def toolbox(tree: Path, search: FakeSearch) -> RunToolbox:
    return RunToolbox(project_root=tree, search=search, limits=RunLimits(max_file_bytes=1_000))
