"""Where a project's embedded Redis listens: ``<data dir>/redis.json``, readable by its owner only.

The first server of a project starts the embedded Redis and writes its URL here, secret included;
later servers, ``personas jobs cancel`` and ``personas standards`` read it to join the same Redis
(so a cancel reaches the worker that runs the job). Written atomically with mode 0600.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import suppress
from pathlib import Path

log = logging.getLogger(__name__)

RECORD_NAME = "redis.json"


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
    return url if isinstance(url, str) and url.startswith(("unix://", "redis://")) else None


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
