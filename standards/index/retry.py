"""Changes the writer could not write (disk full, read-only, a failed commit), kept and retried.

Paths are kept until a re-index of them succeeds; one task retries them all with exponential
backoff (:data:`FIRST_SECONDS` doubling to :data:`MAX_SECONDS`), so nothing a watcher reported is
forgotten after an error. The writer reports ``stale`` while any are pending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FIRST_SECONDS = 0.5
MAX_SECONDS = 30.0


class FailedChanges:
    def __init__(self, retry: Callable[[list[Path]], Awaitable[None]], spawn: Callable[[Any, str], Any]) -> None:
        self._retry = retry
        self._spawn = spawn
        self._paths: set[Path] = set()
        self._task: asyncio.Task[None] | None = None

    def __bool__(self) -> bool:
        return bool(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def keep(self, paths: list[Path]) -> None:
        """Remember ``paths`` and make sure a retry is scheduled."""
        self._paths.update(paths)
        if self._task is None or self._task.done():
            self._task = self._spawn(self._run(), "standards-retry")

    def landed(self, paths: list[Path]) -> None:
        self._paths.difference_update(paths)

    async def _run(self) -> None:
        delay = FIRST_SECONDS
        while self._paths:
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_SECONDS)
            paths = sorted(self._paths)
            try:
                await self._retry(paths)
            except Exception as exc:  # reported in the status by the writer; retried
                log.debug("retry of %d changed paths failed: %s", len(paths), exc)
        log.info("changes that failed to index earlier are indexed now")
