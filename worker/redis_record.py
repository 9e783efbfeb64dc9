"""Where a project's embedded Redis listens: ``<data dir>/redis.json``, readable by its owner only.

The first server of a project starts the embedded Redis and writes its URL here, secret included;
later servers, ``personas jobs cancel`` and ``personas standards`` read it to join the same Redis
(so a cancel reaches the worker that runs the job). Written atomically with mode 0600.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from contextlib import suppress
from pathlib import Path

log = logging.getLogger(__name__)

RECORD_NAME = "redis.json"
SOCKET_NAME = "redis.sock"


def record_path(data_dir: Path) -> Path:
    return data_dir / RECORD_NAME


def read_record(data_dir: Path) -> str | None:
    """The recorded URL, or None when there is no (readable, well-formed) record."""
    path = record_path(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return None
    url = data.get("url") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url.startswith("unix://"):
        return None
    socket = Path(url.partition("@")[2].partition("?")[0])
    if not is_own_socket(data_dir, socket):
        # A record is only ever written with this data dir's own socket: one naming another path (a
        # checked-out change's `.agent-os/data/redis.json`) would have the server unlink that file to
        # start Redis there, or join whatever listens on it. A TCP record (an older version's) too.
        log.warning("ignoring %s: its socket %s is not this data dir's own", path, socket)
        return None
    return url


def private_folder_name(data_dir: Path) -> str:
    """The private folder (under ``$XDG_RUNTIME_DIR`` or the temp dir) holding the socket of a data dir
    whose own socket path would be too long."""
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return f"personas-{os.getuid()}-{digest}"


def is_own_socket(data_dir: Path, socket: Path) -> bool:
    """Is ``socket`` where this data dir's embedded Redis listens: ``<data dir>/redis.sock``, or
    ``redis.sock`` in its private folder (a real folder of this user's, mode 0700)?"""
    if socket.name != SOCKET_NAME:
        return False
    if socket.parent == data_dir:
        return True
    if socket.parent.name != private_folder_name(data_dir):
        return False
    try:
        info = socket.parent.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) == 0o700


def recorded_redis_pid(data_dir: Path) -> int | None:
    """The pid of the redis-server the record points at, when known."""
    try:
        data = json.loads(record_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pid = data.get("redis_pid") if isinstance(data, dict) else None
    return pid if isinstance(pid, int) and pid > 0 else None


def write_record(data_dir: Path, url: str, redis_pid: int | None = None) -> None:
    """Replace the record atomically; the file is created 0600, never readable by others."""
    path = record_path(data_dir)
    tmp = path.with_name(f".{RECORD_NAME}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps({"url": url, "pid": os.getpid(), "redis_pid": redis_pid}).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def remove_record(data_dir: Path) -> None:
    with suppress(FileNotFoundError):
        record_path(data_dir).unlink()
