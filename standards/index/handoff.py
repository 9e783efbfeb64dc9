"""Handing index work to the process that holds the writer lock.

A process that may not write (``personas index`` while ``personas serve`` runs, a second server on
the same project) drops a request file into ``<index_dir>/requests/``; the writer polls that
folder (:data:`POLL_SECONDS`), runs the requests in order under its own lock, and answers each
with a ``.done`` file. So every write goes through one process, in order, reading the files at
the time it writes: an older copy of a file can never overwrite a newer edit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

log = logging.getLogger(__name__)

REQUESTS_DIR = "requests"
#: How often the writer looks for requests, and a requester for the answer.
POLL_SECONDS = 0.25
#: Requests older than this are dropped unanswered (their requester gave up long ago).
MAX_AGE_SECONDS = 3600.0
#: At most this many requests are read per poll (the rest wait for the next one).
MAX_PER_POLL = 64

RequestKind = Literal["rebuild", "paths"]


@dataclass(frozen=True)
class Request:
    id: str
    kind: RequestKind
    paths: list[str]


class HandoffFailed(Exception):
    """The writer stopped, or answered with an error, before finishing a request."""


def _dir(index_dir: Path) -> Path:
    return index_dir / REQUESTS_DIR


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(path)


def submit(index_dir: Path, kind: RequestKind, paths: list[Path] | None = None) -> str:
    """Queue a request for the writer (blocking I/O); returns its id."""
    folder = _dir(index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    request_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    _write_atomic(folder / f"{request_id}.json", {"kind": kind, "paths": [str(p) for p in paths or []]})
    return request_id


def take_pending(index_dir: Path) -> list[Request]:
    """Requests waiting for the writer, oldest first (blocking I/O). Unreadable or stale files are dropped."""
    folder = _dir(index_dir)
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith("."))
    except FileNotFoundError:
        return []
    requests: list[Request] = []
    for name in names[:MAX_PER_POLL]:
        path = folder / name
        try:
            if time.time() - path.stat().st_mtime > MAX_AGE_SECONDS:
                path.unlink(missing_ok=True)
                continue
            data = json.loads(path.read_text(encoding="utf-8"))
            kind = data["kind"]
            if kind not in ("rebuild", "paths"):
                raise ValueError(f"unknown request kind {kind!r}")
            requests.append(Request(id=name[:-5], kind=kind, paths=[str(p) for p in data.get("paths", [])]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("dropping unreadable index request %s: %s", path, exc)
            path.unlink(missing_ok=True)
    return requests


def answer(index_dir: Path, request_id: str, result: dict[str, Any]) -> None:
    """Record the outcome of a request and remove it from the queue (blocking I/O)."""
    folder = _dir(index_dir)
    try:
        _write_atomic(folder / f"{request_id}.done", result)
    except OSError as exc:
        log.warning("could not answer index request %s: %s", request_id, exc)
    (folder / f"{request_id}.json").unlink(missing_ok=True)


async def wait_answer(
    index_dir: Path,
    request_id: str,
    *,
    timeout: float,  # noqa: ASYNC109 (a deadline across polls)
    writer_alive: Callable[[], bool],
) -> dict[str, Any]:
    """Wait for the writer's answer. Raises :class:`HandoffFailed` if the writer goes away first
    (its request is withdrawn so it cannot run later) or answers with an error, TimeoutError after
    ``timeout`` seconds."""
    done = _dir(index_dir) / f"{request_id}.done"
    deadline = time.monotonic() + timeout
    while True:
        if done.exists():
            data: dict[str, Any] = json.loads(await asyncio.to_thread(done.read_text, encoding="utf-8"))
            done.unlink(missing_ok=True)
            if data.get("error"):
                raise HandoffFailed(str(data["error"]))
            return data
        if not await asyncio.to_thread(writer_alive):
            if not done.exists():
                (_dir(index_dir) / f"{request_id}.json").unlink(missing_ok=True)
                raise HandoffFailed("the writer stopped before it handled the request")
            continue
        if time.monotonic() >= deadline:
            (_dir(index_dir) / f"{request_id}.json").unlink(missing_ok=True)
            raise TimeoutError(f"no answer from the index writer after {timeout:.0f} s")
        await asyncio.sleep(POLL_SECONDS)


async def serve(
    index_dir: Path,
    *,
    rebuild: Callable[[], Awaitable[BaseModel]],
    reindex: Callable[[list[Path]], Awaitable[None]],
) -> None:
    """The writer's loop: run queued requests in order and answer each (until cancelled)."""
    while True:
        for request in await asyncio.to_thread(take_pending, index_dir):
            result: dict[str, Any]
            try:
                if request.kind == "rebuild":
                    result = (await rebuild()).model_dump(mode="json")
                else:
                    await reindex([Path(p) for p in request.paths])
                    result = {"ok": True}
            except Exception as exc:  # answered to the requester
                result = {"error": f"{type(exc).__name__}: {exc}"}
            await asyncio.to_thread(answer, index_dir, request.id, result)
        await asyncio.sleep(POLL_SECONDS)
