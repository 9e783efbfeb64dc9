"""The "standards changed" event: an approval on the server tells every host which files changed.

Where file events do not cross hosts (network mounts, a checkout per host), a process that keeps
its own copy of the standards index subscribes and re-indexes the named files, instead of waiting
for its watcher. The event travels over the Redis every process already shares (pub/sub, JSON
``{"paths": [...]}``, relative to the standards folder when they are inside it). Pub/sub is
fire-and-forget: a subscriber that was down meanwhile catches up from its own watcher or
reconciliation at start.

The approved content is in the database too (:func:`approved_lookup`): a replica that hears of a
file it cannot read yet (a network mount lagging, a checkout not pulled) indexes the approved text
in its place, and so does every reconcile for approvals of the last :data:`STAND_IN_HOURS` hours;
the file, once it arrives, replaces it (see :mod:`standards.index.stored`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from standards.curation.store import Proposal, ProposalStore
from standards.curation.views import approved_text, file_of
from standards.index.stored import StoredLookup, StoredStandard

log = logging.getLogger(__name__)

CHANNEL = "agent-personas:standards-changed"
MAX_PATHS = 1000
#: Approvals this recent are served from the database by a host that lacks their file; an older
#: one whose file never arrived (a host whose checkout stopped pulling, a standard deleted since)
#: is left to the files.
STAND_IN_HOURS = 24

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


def approved_lookup(store: ProposalStore, *, hours: float = STAND_IN_HOURS) -> StoredLookup:
    """The approved standards of the last ``hours`` as the index's stand-ins for files not here yet."""

    async def lookup(files: list[str] | None) -> list[StoredStandard]:
        approved = await store.approved_standards(since=time.time() - hours * 3600, files=files)
        return await asyncio.to_thread(_stand_ins, approved)

    return lookup


def _stand_ins(approved: list[Proposal]) -> list[StoredStandard]:
    """Blocking (parses front matter). Each approval's file text, rebuilt from the database."""
    out = []
    for p in approved:
        try:
            text = approved_text(p)
        except ValueError as exc:  # content stored before today's checks; its file is the truth
            log.warning("approved standard %s cannot be rebuilt from the database: %s", file_of(p), exc)
            continue
        out.append(StoredStandard(source=p.target or "project", file=file_of(p), text=text, replaces=p.base_hash))
    return out


class Reindexable(Protocol):
    async def reindex_paths(self, paths: list[Path]) -> None: ...

    async def index_stored(self, files: list[str]) -> list[str]: ...


@asynccontextmanager
async def replicating(
    index: Reindexable, redis: Redis, root: Path, *, writes: Callable[[], bool]
) -> AsyncIterator[None]:
    """Keep a local index replica fresh from the "standards changed" events: each announced path
    (relative ones are under ``root``, this host's standards folder) is re-indexed at once, even
    where file events from the approving host never arrive (network mounts, a checkout per host).
    A path this host cannot read (yet) is indexed from the approved content in the database, when
    the index was given a lookup (``writer_or_reader(..., stored=approved_lookup(store))``).
    ``writes()`` says whether this process writes its index folder now; a reader of a folder
    another process writes ignores the event (that writer hears it itself)."""

    async def on_change(names: list[str]) -> None:
        if not writes():
            return
        paths = [Path(name) if Path(name).is_absolute() else root / name for name in names]
        log.info("re-indexing %d standards announced as changed", len(paths))
        await index.reindex_paths(paths)
        # What this host cannot read yet is served from the database until the file arrives.
        relative = [name for name in names if not Path(name).is_absolute()]
        if served := await index.index_stored(relative):
            log.info("serving %s from the database until the file arrives here", ", ".join(served))

    async with subscribe_changed(redis, on_change):
        yield
