"""`personas doctor` checks the system of record; a server whose database cannot be reached stays up
and says why on every tool call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mcp import Client

from mcp_server.doctor import check_database
from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.redis_process import free_port


async def test_doctor_refuses_a_damaged_sqlite_database(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings(data_dir=tmp_path / "data")
    assert (await check_database(settings)).ok
    settings.jobs_db_path.parent.mkdir(parents=True, exist_ok=True)
    settings.jobs_db_path.write_bytes(b"not a database at all" * 50)
    check = await check_database(settings)
    assert not check.ok
    assert str(settings.jobs_db_path) in check.detail and "move the file aside" in check.fix


async def test_doctor_reports_postgres_and_its_schema(
    make_settings: Callable[..., Settings], postgres_database: str
) -> None:
    check = await check_database(make_settings(database_url=postgres_database))
    assert check.ok, check.detail
    assert "PostgreSQL at" in check.detail and "jobs v2" in check.detail


async def test_unreachable_postgres_fails_doctor_and_the_server_says_why(
    make_settings: Callable[..., Settings], redis_url: str, postgres_server: str
) -> None:
    port = free_port()  # nothing listens here
    settings = make_settings(redis_url=redis_url, database_url=f"postgresql://app:hunter2@127.0.0.1:{port}/personas")
    check = await check_database(settings)
    assert not check.ok and f"127.0.0.1:{port}" in check.detail and "hunter2" not in check.detail
    assert "PERSONAS_DATABASE_URL" in check.fix
    async with Client(build_server(settings, run_worker=False, watch=False)) as client:
        reply = await client.call_tool("invoke_qa", {"task": "review"})
    text = " ".join(getattr(c, "text", "") for c in reply.content)
    assert reply.is_error and f"127.0.0.1:{port}" in text and "PERSONAS_DATABASE_URL" in text
    assert "hunter2" not in text
