"""The single-writer rule: one process writes an index folder, enforced with a file lock.

``writer.lock`` in the index folder is held (``flock``, through :mod:`filelock`) for as long as
an :class:`~standards.index.writer.IndexWriter` runs; the operating system drops it when the
process dies, so a crash never leaves a stale lock. ``writer.json`` beside it names the holder
(pid, command) so a second process can say who writes and hand its work over
(:mod:`standards.index.handoff`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)

LOCK_NAME = "writer.lock"
HOLDER_NAME = "writer.json"


class WriterBusy(Exception):
    """Another process writes this index."""

    def __init__(self, index_dir: Path, holder: str) -> None:
        super().__init__(f"the standards index at {index_dir} is written by {holder}")
        self.index_dir = index_dir
        self.holder = holder


class WriterLock:
    """Non-blocking exclusive lock on one index folder (one per process and folder at a time)."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self._lock = FileLock(index_dir / LOCK_NAME, thread_local=False, blocking=False)

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def try_acquire(self) -> bool:
        """Take the lock if free (blocking I/O, but never waits); True if this object holds it."""
        if self._lock.is_locked:
            return True
        self.index_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            return False
        holder = {"pid": os.getpid(), "command": " ".join(sys.argv[:2]) or "python", "since": time.time()}
        try:
            (self.index_dir / HOLDER_NAME).write_text(json.dumps(holder), encoding="utf-8")
        except OSError as exc:  # only a hint for other processes
            log.debug("could not write %s: %s", self.index_dir / HOLDER_NAME, exc)
        return True

    def acquire(self) -> None:
        """Take the lock or raise :class:`WriterBusy` naming the holder."""
        if not self.try_acquire():
            raise WriterBusy(self.index_dir, describe_holder(self.index_dir))

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)


def describe_holder(index_dir: Path) -> str:
    """'pid 123 (personas serve)' from ``writer.json``, or 'another process'."""
    try:
        data = json.loads((index_dir / HOLDER_NAME).read_text(encoding="utf-8"))
        return f"pid {int(data['pid'])} ({data.get('command') or 'unknown command'})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def writer_running(index_dir: Path) -> bool:
    """True if some process (this one included) holds the writer lock of ``index_dir`` now."""
    if not (index_dir / LOCK_NAME).exists():
        return False
    probe = FileLock(index_dir / LOCK_NAME, thread_local=False, blocking=False)
    try:
        probe.acquire()
    except Timeout:
        return True
    probe.release(force=True)
    return False
