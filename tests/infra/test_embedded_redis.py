"""The embedded Redis: never reachable without its secret, shared by the servers of one project,
restarted when it dies."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from arq.connections import RedisSettings
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from mcp_server.app import open_app
from mcp_server.data_dir import prepare_data_dir
from mcp_server.doctor import check_redis
from mcp_server.embedded import embedded_redis
from mcp_server.settings import Settings
from personas.registry import PersonaRegistry
from tests.conftest import wait_for
from worker.models import JobStatus
from worker.queue import QUEUE_NAME, JobQueue, make_pool


def _long_data_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / ("a-very-long-folder-name-" * 5) / ".agent-os" / "data"
    data_dir.mkdir(parents=True)
    assert len(str(data_dir / "redis.sock")) > 100
    return data_dir


async def _pid_of(url: str) -> int:
    client = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        info = await client.info("server")
        return int(info["process_id"])
    finally:
        await client.aclose()


async def _refuses_without_secret(url: str) -> None:
    where = RedisSettings.from_dsn(url)
    if where.unix_socket_path:
        anonymous = aioredis.Redis(unix_socket_path=where.unix_socket_path)
    else:
        anonymous = aioredis.Redis(host=str(where.host), port=where.port)
    try:
        with pytest.raises((AuthenticationError, ResponseError), match=r"NOAUTH|Authentication"):
            await anonymous.ping()
        with pytest.raises((AuthenticationError, ResponseError)):
            await anonymous.zadd("agent-personas:queue", {"evil": 0})
    finally:
        await anonymous.aclose()
    authed = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        assert await authed.ping()
    finally:
        await authed.aclose()


async def test_long_data_dir_redis_refuses_connections_without_the_secret(tmp_path: Path) -> None:
    data_dir = _long_data_dir(tmp_path)
    async with embedded_redis(data_dir) as url:
        where = RedisSettings.from_dsn(url)
        assert where.password and len(where.password) >= 32
        await _refuses_without_secret(url)
        # The socket sits in a short private folder, not reachable by other users.
        assert where.unix_socket_path is not None
        folder = Path(where.unix_socket_path).parent
        assert folder != data_dir and stat.S_IMODE(folder.stat().st_mode) == 0o700
        # The secret is not on redis-server's command line (which `ps` shows to every user).
        cmdline = Path(f"/proc/{await _pid_of(url)}/cmdline").read_bytes()
        assert where.password.encode() not in cmdline


async def test_short_data_dir_socket_also_needs_the_secret_and_is_recorded_privately(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    async with embedded_redis(data_dir) as url:
        await _refuses_without_secret(url)
        assert RedisSettings.from_dsn(url).unix_socket_path == str(data_dir / "redis.sock")
        record = data_dir / "redis.json"
        assert json.loads(record.read_text())["url"] == url
        assert stat.S_IMODE(record.stat().st_mode) == 0o600
        assert stat.S_IMODE((data_dir / "redis.log").stat().st_mode) == 0o600
    assert not record.exists()  # the last server to leave removes it


async def test_a_second_server_joins_the_projects_redis(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    async with embedded_redis(data_dir) as first:
        pid = await _pid_of(first)
        async with embedded_redis(data_dir) as second:
            assert second == first and await _pid_of(second) == pid
        assert await _pid_of(first) == pid  # the joiner leaving does not stop it
        assert (data_dir / "redis.json").exists()


async def test_a_redis_that_dies_is_restarted_on_the_same_url(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    restarted = asyncio.Event()

    async def on_restart() -> None:
        restarted.set()

    async with embedded_redis(data_dir, supervise_interval=0.05, on_restart=on_restart) as url:
        client = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        try:
            await client.set("before", "1")
            old_pid = await _pid_of(url)
            os.kill(old_pid, signal.SIGKILL)
            await asyncio.wait_for(restarted.wait(), timeout=60)

            async def answers() -> bool:
                try:
                    return bool(await client.ping())
                except (OSError, RedisError):
                    return False

            await wait_for(answers, what="the restarted Redis to answer on the same URL")
            assert await _pid_of(url) != old_pid
            assert await client.get("before") is None  # a new, empty Redis: pending jobs are re-enqueued
        finally:
            await client.aclose()
        await _refuses_without_secret(url)


async def test_queue_down_message_on_the_embedded_default_does_not_say_unset_redis_url(tmp_path: Path) -> None:
    url = f"unix://:secret@{tmp_path}/gone.sock"
    pool = make_pool(url)
    try:
        message = str(JobQueue(pool, url, embedded=True).unavailable(OSError("connection refused")))
    finally:
        await pool.aclose()
    assert "unset REDIS_URL" not in message
    assert "restarts it" in message and "secret" not in message


async def test_after_a_restart_pending_jobs_are_back_on_the_queue(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    personas = PersonaRegistry.load(settings.personas_dir)
    async with open_app(settings, personas, run_worker=False, watch=False) as state:
        pending = [(await state.jobs.submit("qa", f"review {i}")).job_id for i in range(2)]
        client = aioredis.Redis.from_url(state.redis_url, socket_timeout=5, socket_connect_timeout=5)
        try:
            assert await client.zcard(QUEUE_NAME) == 2
            os.kill(await _pid_of(state.redis_url), signal.SIGKILL)

            async def requeued() -> bool:
                try:
                    return bool(await client.zcard(QUEUE_NAME) == 2)
                except (OSError, RedisError):
                    return False

            await wait_for(requeued, timeout=20, what="the pending jobs to be enqueued on the restarted Redis")
        finally:
            await client.aclose()
        jobs = [await state.jobs.store.get(job_id) for job_id in pending]
    assert all(j is not None and j.status is JobStatus.PENDING and ":q" in (j.queue_job_id or "") for j in jobs)


async def test_a_redis_that_is_only_slow_is_not_restarted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mcp_server.embedded")
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    async with embedded_redis(data_dir, supervise_interval=0.05) as url:
        pid = await _pid_of(url)
        os.kill(pid, signal.SIGSTOP)  # alive but not answering, like a Redis starved of CPU
        try:

            async def held_back() -> bool:
                return "slow to answer; not restarting" in caplog.text

            await wait_for(held_back, what="the supervisor to notice a slow Redis")
        finally:
            os.kill(pid, signal.SIGCONT)
        assert await _pid_of(url) == pid


async def test_doctor_sees_the_running_embedded_redis(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    prepare_data_dir(settings.data_dir)
    assert "will start" in (await check_redis(settings)).detail
    async with embedded_redis(settings.data_dir):
        check = await check_redis(settings)
    assert check.ok and "running on unix socket" in check.detail and "password-protected" in check.detail


async def test_no_tcp_port_when_every_socket_folder_has_a_long_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port the server picked and released could be bound first by another local user's fake Redis
    (one that answers OK to any password): the embedded Redis uses a private folder under /tmp instead."""
    import tempfile

    long_base = _long_data_dir(tmp_path).parent / "long-runtime-dir"
    long_base.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(long_base))
    monkeypatch.setattr(tempfile, "tempdir", str(long_base))
    data_dir = _long_data_dir(tmp_path / "x")
    async with embedded_redis(data_dir) as url:
        socket_path = RedisSettings.from_dsn(url).unix_socket_path
        assert socket_path is not None, url
        folder = Path(socket_path).parent
        assert folder.parent == Path("/tmp") and folder.name.startswith(f"personas-{os.getuid()}-")
        info = folder.lstat()
        assert stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) == 0o700
        await _refuses_without_secret(url)


def test_a_socket_path_that_cannot_fit_anywhere_is_an_error_naming_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcp_server import embedded

    monkeypatch.setattr(embedded, "_MAX_UNIX_PATH", 12)
    with pytest.raises(embedded.EmbeddedRedisError, match=r"never falls back to a TCP port.*TMPDIR|REDIS_URL"):
        embedded.new_url(tmp_path)


async def test_a_recorded_tcp_redis_is_never_joined(tmp_path: Path) -> None:
    """A record naming a TCP port (an older version's) is not trusted: the port may now be another local
    user's fake Redis, which answers OK to any password and would receive the secret and every job."""
    from worker.redis_record import write_record

    heard: list[bytes] = []

    async def fake_redis(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            heard.append(data)
            writer.write(b"+OK\r\n" * max(1, data.count(b"*")))
            await writer.drain()
        writer.close()

    fake = await asyncio.start_server(fake_redis, "127.0.0.1", 0)
    port = fake.sockets[0].getsockname()[1]
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    write_record(data_dir, f"redis://:{'s' * 64}@127.0.0.1:{port}/0", None)
    try:
        async with embedded_redis(data_dir) as url:
            assert RedisSettings.from_dsn(url).unix_socket_path is not None, url
            await _refuses_without_secret(url)
            secret = RedisSettings.from_dsn(url).password
            assert secret and not any(secret.encode() in chunk for chunk in heard)
        assert not any(b"s" * 64 in chunk for chunk in heard)  # not even asked whether it is there
    finally:
        fake.close()
        await fake.wait_closed()


@pytest.mark.parametrize("where", ["victim-file", "elsewhere/redis.sock"])
async def test_a_record_naming_another_socket_is_ignored_and_nothing_there_is_removed(
    tmp_path: Path, where: str
) -> None:
    """A checked-out change can commit `.agent-os/data/redis.json` naming any path as the socket: the
    server unlinked it ('left by a killed redis-server') to start Redis there, deleting that file."""
    from worker.redis_record import write_record

    victim = tmp_path / where
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_text("precious\n")
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    write_record(data_dir, f"unix://:{'s' * 64}@{victim}", None)
    async with embedded_redis(data_dir) as url:
        assert RedisSettings.from_dsn(url).unix_socket_path == str(data_dir / "redis.sock")
        await _refuses_without_secret(url)
    assert victim.read_text() == "precious\n"
