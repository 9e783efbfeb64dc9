"""The "standards changed" event: an approval on the server tells every host which files changed.

Where file events do not cross hosts (network mounts, a checkout per host), a process that keeps
its own copy of the standards index subscribes and re-indexes the named files, instead of waiting
for its watcher. The event travels over the Redis every process already shares (pub/sub, JSON
``{"paths": [...]}``, relative to the standards folder when they are inside it). Pub/sub is
fire-and-forget: a subscriber that was down meanwhile catches up from its own watcher or
reconciliation at start; the approved content is in the database too.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CHANNEL = "agent-personas:standards-changed"
MAX_PATHS = 1000

OnChange = Callable[[list[str]], Awaitable[None]]


async def publish_changed(redis: Redis, paths: Sequence[Path | str], *, root: Path | None = None) -> int:
    """Announce changed standards; returns how many subscribers got it (0 when Redis is down)."""
    names = await asyncio.to_thread(_names, list(paths)[:MAX_PATHS], root)
    try:
        return int(await redis.publish(CHANNEL, json.dumps({"paths": names})))
    except (OSError, RedisError) as exc:
        log.warning("could not announce %d changed standards (%s); other hosts rely on their watchers", len(names), exc)
        return 0


def _names(paths: list[Path | str], root: Path | None) -> list[str]:
    names = []
    for path in paths:
        text = str(path)
        if root is not None and isinstance(path, Path):
            with suppress(ValueError):
                text = path.resolve().relative_to(root.resolve()).as_posix()
        names.append(text)
    return names


def publishing(reindex: Callable[[list[Path]], Awaitable[None]], redis: Redis, root: Path) -> Callable[
    [list[Path]], Awaitable[None]
]:  # fmt: skip
    """Wrap a local re-index (the approval hook) so it also announces the paths to other hosts."""

    async def reindex_and_announce(paths: list[Path]) -> None:
        try:
            await reindex(paths)
        finally:
            await publish_changed(redis, paths, root=root)

    return reindex_and_announce


@asynccontextmanager
async def subscribe_changed(redis: Redis, on_change: OnChange) -> AsyncIterator[None]:
    """Call ``on_change(paths)`` for every announcement while the block runs. A failing callback
    is logged, never stops the subscription."""
    pubsub = redis.pubsub()
    await pubsub.subscribe(CHANNEL)

    async def pump() -> None:
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except (OSError, RedisError) as exc:
                log.warning("standards-changed subscription lost (%s); retrying", exc)
                await asyncio.sleep(1.0)
                continue
            if message is None:
                continue
            try:
                paths = [str(p) for p in json.loads(message["data"])["paths"]][:MAX_PATHS]
            except (ValueError, KeyError, TypeError):
                log.warning("ignored a malformed standards-changed event: %r", message.get("data"))
                continue
            try:
                await on_change(paths)
            except Exception:
                log.exception("handling changed standards %s failed", paths)

    task = asyncio.create_task(pump(), name="standards-changed")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        with suppress(OSError, RedisError):
            await pubsub.unsubscribe()
        with suppress(OSError, RedisError):
            await pubsub.aclose()  # type: ignore[no-untyped-call]


class Reindexable(Protocol):
    async def reindex_paths(self, paths: list[Path]) -> None: ...


@asynccontextmanager
async def replicating(
    index: Reindexable, redis: Redis, root: Path, *, writes: Callable[[], bool]
) -> AsyncIterator[None]:
    """Keep a local index replica fresh from the "standards changed" events: each announced path
    (relative ones are under ``root``, this host's standards folder) is re-indexed at once, even
    where file events from the approving host never arrive (network mounts, a checkout per host).
    ``writes()`` says whether this process writes its index folder now; a reader of a folder
    another process writes ignores the event (that writer hears it itself)."""

    async def on_change(names: list[str]) -> None:
        if not writes():
            return
        paths = [Path(name) if Path(name).is_absolute() else root / name for name in names]
        log.info("re-indexing %d standards announced as changed", len(paths))
        await index.reindex_paths(paths)

    async with subscribe_changed(redis, on_change):
        yield
