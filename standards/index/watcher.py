"""Watching standards folders: watchdog thread → asyncio loop → trailing debounce.

The watchdog observer thread only hands raw paths to the event loop with
``loop.call_soon_threadsafe``. On the loop, paths collect in a set; the flush runs
``debounce_seconds`` after the last event (trailing debounce), or at the latest
``max_delay_seconds`` after the first one, so a steady stream of writes cannot starve it.

Bounds: watchdog's inotify backend adds one kernel watch per folder of a recursive watch and cannot
skip sub-folders. So events under the folders the walk skips (hidden ones, ``node_modules``, …:
:func:`standards.index.walk.skipped_dir`) are dropped on the watchdog thread, before they reach the
loop; and a folder holding more than :data:`MAX_WATCH_DIRS` folders in all (skipped ones included)
is watched without its sub-folders, with one warning: changes deeper in it are indexed at the next
start or by ``personas index``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from standards.index.embedder import SETTING_ERRORS
from standards.index.models import StandardsSource
from standards.index.walk import skipped_dir

log = logging.getLogger(__name__)

#: Folders (skipped ones included) a recursive watch may cover; past it a folder is watched without
#: its sub-folders. Each is an inotify watch (``fs.inotify.max_user_watches`` is per user, 8,192 on
#: older kernels).
MAX_WATCH_DIRS = 2_000


class Debouncer:
    """Collects paths on the event loop and calls ``flush`` with them once things settle."""

    def __init__(
        self,
        flush: Callable[[list[Path]], Awaitable[None]],
        *,
        delay: float,
        max_delay: float = 1.0,
    ) -> None:
        self._flush = flush
        self._delay = delay
        self._max_delay = max(max_delay, delay)
        self._paths: set[Path] = set()
        self._first: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, paths: list[Path]) -> None:
        """Must be called on the loop's thread."""
        loop = asyncio.get_running_loop()
        self._paths.update(paths)
        now = loop.time()
        if self._first is None:
            self._first = now
        if self._timer is not None:
            self._timer.cancel()
        wait = min(self._delay, max(0.0, self._first + self._max_delay - now))
        self._timer = loop.call_later(wait, self._fire)

    def _fire(self) -> None:
        paths = sorted(self._paths)
        self._paths.clear()
        self._first = None
        self._timer = None
        if paths:
            task = asyncio.get_running_loop().create_task(self._run(paths), name="standards-reindex")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, paths: list[Path]) -> None:
        try:
            await self._flush(paths)
        except Exception as exc:  # the watcher must survive any indexing failure
            traceback = not isinstance(exc, SETTING_ERRORS)  # a setting to fix: its message says how
            log.error("re-indexing changed standards failed: %s: %s", [str(p) for p in paths], exc, exc_info=traceback)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._paths.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _handler_class() -> type[Any]:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler

    class _Handler(FileSystemEventHandler):
        def __init__(
            self, loop: asyncio.AbstractEventLoop, sink: Callable[[list[Path]], None], root: Path | None
        ) -> None:
            self._loop = loop
            self._sink = sink
            # a recursive watch's folder: events under the folders the walk skips are dropped
            self._prefix = None if root is None else str(root).rstrip(os.sep) + os.sep

        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.event_type in ("opened", "closed_no_write"):
                return
            if event.is_directory and event.event_type == "modified":
                return  # the files inside report their own events
            texts = [_text(event.src_path)]
            if event.dest_path:
                texts.append(_text(event.dest_path))
            paths = [Path(text) for text in texts if not self._skipped(text)]
            if paths:
                with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                    self._loop.call_soon_threadsafe(self._sink, paths)

        def _skipped(self, text: str) -> bool:
            if self._prefix is None or not text.startswith(self._prefix):
                return False
            return any(skipped_dir(part) for part in text[len(self._prefix) :].split(os.sep))

    return _Handler


def _text(path: bytes | str) -> str:
    return path.decode(errors="surrogateescape") if isinstance(path, bytes) else path


def count_dirs(top: Path, bound: int) -> int:
    """The folders a recursive watch of ``top`` covers (``top`` too, skipped folders too, symlinked
    folders not followed), counted up to ``bound + 1``."""
    count = 0
    for _ in os.walk(top):
        count += 1
        if count > bound:
            break
    return count


class Watcher:
    """A watchdog observer over several roots feeding a :class:`Debouncer`."""

    def __init__(self, debouncer: Debouncer) -> None:
        self._debouncer = debouncer
        self._observer: Any = None
        self._watched: dict[Path, Any] = {}  # folder -> watchdog's ObservedWatch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handler_type: type[Any] | None = None

    def start(self, roots: list[Path] | list[tuple[Path, bool]]) -> None:
        """Watch folders: each a path (recursive) or a (path, recursive) pair."""
        from watchdog.observers import Observer

        self._loop = asyncio.get_running_loop()
        self._handler_type = _handler_class()
        self._observer = Observer()
        self._observer.daemon = True
        for target in roots:
            path, recursive = target if isinstance(target, tuple) else (target, True)
            self.watch(path, recursive=recursive)
        self._observer.start()

    def watch(self, root: Path, *, recursive: bool = True) -> None:
        """Watch one more folder (no-op if already watched or missing). Blocking: a recursive watch
        first counts the folders it would cover, up to :data:`MAX_WATCH_DIRS`."""
        if self._observer is None or self._handler_type is None or root in self._watched or not root.is_dir():
            return
        if recursive and count_dirs(root, MAX_WATCH_DIRS) > MAX_WATCH_DIRS:
            recursive = False
            log.warning(
                "standards folder %s holds more than %d folders: watching only its top level (changes in its "
                "sub-folders are indexed at the next start or by `personas index`). Point PERSONAS_STANDARDS_DIR "
                "(or PERSONAS_SHARED_STANDARDS_DIRS) at the standards folder itself, not a project or checkout root.",
                root,
                MAX_WATCH_DIRS,
            )
        handler = self._handler_type(self._loop, self._debouncer.add, root if recursive else None)
        self._watched[root] = self._observer.schedule(handler, str(root), recursive=recursive)
        log.info("watching standards folder %s%s", root, "" if recursive else " (not its sub-folders)")

    def is_watching(self, root: Path) -> bool:
        return root in self._watched

    def adopt_roots(self, sources: list[StandardsSource]) -> list[Path]:
        """Blocking. Watch standards roots created since start (returned: they are to be indexed whole);
        for a missing root watch its nearest existing parent folder, so its creation is noticed."""
        self.forget_missing()
        adopted: list[Path] = []
        for source in sources:
            root = source.root.expanduser().resolve()
            if root.is_dir():
                if not self.is_watching(root):
                    self.watch(root, recursive=source.kind != "rules")
                    adopted.append(root)
                continue
            parent = root.parent
            while not parent.is_dir() and parent != parent.parent:
                parent = parent.parent
            self.watch(parent, recursive=False)
        return adopted

    def forget_missing(self) -> None:
        """Stop watching folders that were deleted (so a folder re-created later is watched again)."""
        for root in [r for r in self._watched if not r.is_dir()]:
            watch = self._watched.pop(root)
            if self._observer is not None:
                with contextlib.suppress(KeyError, OSError):
                    self._observer.unschedule(watch)
            log.info("standards folder %s is gone; watching for it to come back", root)

    async def stop(self) -> None:
        if self._observer is not None:
            observer, self._observer = self._observer, None
            observer.stop()
            await asyncio.to_thread(observer.join, 5.0)
        await self._debouncer.close()
