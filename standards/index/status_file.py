"""The index status shared with reader processes: the writer publishes it to ``status.json`` in
the index dir (throttled, best effort), readers (workers) read it to report progress."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from pathlib import Path

from pydantic import ValidationError

from standards.index.models import IndexStatus

log = logging.getLogger(__name__)

FILE_NAME = "status.json"
MIN_INTERVAL_SECONDS = 0.5


class StatusFile:
    def __init__(self, index_dir: Path) -> None:
        self.path = index_dir / FILE_NAME
        self._written = 0.0
        self._pending: IndexStatus | None = None

    def offer(self, status: IndexStatus, *, force: bool) -> bool:
        """Queue ``status`` for writing (always when forced, else at most every 0.5 s); a newer
        offer replaces one not written yet. Returns whether something is queued."""
        now = time.monotonic()
        if force or now - self._written >= MIN_INTERVAL_SECONDS:
            self._written = now
            self._pending = status
        return self._pending is not None

    def take(self) -> IndexStatus | None:
        """The newest queued status (once), for the single writer task."""
        status, self._pending = self._pending, None
        return status

    def write(self, status: IndexStatus) -> None:
        """Blocking; atomic (temp file + rename). A failure is only logged: it is a hint for readers."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(status.model_dump_json(), encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            log.debug("could not write %s: %s", self.path, exc)

    async def drain(self) -> None:
        """Write queued statuses until none is left (run by one task at a time)."""
        while (status := self.take()) is not None:
            await asyncio.to_thread(self.write, status)

    def read(self) -> IndexStatus | None:
        """Blocking; None when absent or unreadable."""
        try:
            return IndexStatus.model_validate(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError, ValidationError):
            return None
