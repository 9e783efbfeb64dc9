"""Shared fixtures: a real redis-server, a fake Anthropic API on loopback, settings for tmp dirs."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import redis

from mcp_server.settings import Settings
from tests.fakes.anthropic_api import FakeAnthropic
from tests.redis_process import redis_process

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real redis-server for the test session (REDIS_URL from the environment wins)."""
    external = os.environ.get("TEST_REDIS_URL")
    if external:
        yield external
        return
    with redis_process(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session Redis, flushed so every test starts with an empty queue."""
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.close()
    return redis_server


@pytest.fixture
def fake_api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as api:
        yield api


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "app.py").write_text("def login(user, password):\n    return user == 'admin'\n")
    return root


@pytest.fixture
def make_settings(project: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Settings isolated from the developer's environment, rooted in a tmp project."""
    for name in list(os.environ):
        if name.startswith("PERSONAS_") or name in ("REDIS_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "project_root": project,
            "queue_poll_interval": 0.02,
            "llm_max_retries": 0,
            "embedder": "hashing",
            "embedding_cache_dir": project.parent / "embedding-cache",  # not the user's ~/.cache
            "tools": "all",  # tests reach every tool; tests/test_tool_profiles.py covers the profiles
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


async def wait_for(probe: Callable[[], Awaitable[T | None]], *, timeout: float = 60.0, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``.

    ``timeout`` is a hang bound, never an expectation: a passing test does not wait it out, and on
    two cores shared with other work (load average 10 and more) a few seconds is not a bound."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.01
    while True:
        value = await probe()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.2)


def redis_binary_available() -> bool:
    return shutil.which("redis-server") is not None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """One real PostgreSQL for the test session (``TEST_DATABASE_URL`` wins). In CI a server that
    cannot start fails the tests; a developer without PostgreSQL gets them skipped, with the reason."""
    from tests.postgres_process import PostgresUnavailableError, postgres_process

    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    try:
        server = postgres_process()
        url = server.__enter__()
    except PostgresUnavailableError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs PostgreSQL for the store tests: {exc}")
        pytest.skip(f"PostgreSQL store tests need a server: {exc}")
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
async def postgres_database(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database on the session server (dropped afterwards)."""
    import asyncpg

    admin = str(request.getfixturevalue("postgres_server"))
    name = f"t_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    yield admin.rsplit("/", 1)[0] + "/" + name
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a store lives, once per backend: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "data" / "store.sqlite3"
    return str(request.getfixturevalue("postgres_database"))
