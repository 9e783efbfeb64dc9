"""What the in-memory copy's reload costs after a write (prints numbers, asserts nothing).

Run: ``python -m bench.reload_bench [--copies 4] [--rounds 3] [--keep DIR]``

Builds the bench's synthetic corpus (the engineering playbook plus ``--copies`` renamed copies:
11,765 chunks at 4, as ``bench.search_bench``), reusing the user's embedding cache, in a
temporary folder (or ``--keep DIR``, reused by the next run). Then a writer without a watcher
loads its in-memory copy, and each round appends one line to one file, re-indexes it, and times
the reload of the copy of the new table version: wall time, process CPU (the loading thread plus
LanceDB's scan threads) and the loading thread's CPU per stage; then the same for the version the
full-text fold makes one second later (a writer reloads for both, right after its write). The last
lines count the searches LanceDB answers while the copy reloads when they come right after a write
(the window a team editing standards sees after a save), and time a search half a second after one.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.search_bench import DEFAULT_CORPUS, config_for, pct, synthesize
from mcp_server.collector import freeze_startup_objects
from standards import IndexWriter
from standards.index.embedder import make_embedder
from standards.index.vector_cache import default_cache_dir


async def prepared(work: Path, corpus: Path, copies: int) -> tuple[Path, Path]:
    """The standards folder and the index folder, built unless ``work`` holds them already."""
    root, index_dir = work / "standards", work / "index"
    if not (index_dir / "lancedb").is_dir():
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(corpus, root)
        synthesize(corpus, root, copies)
    return root, index_dir


class Collections:
    """Time spent in the garbage collector's full (generation 2) collections, any thread."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.count = 0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.count += 1


COLLECTIONS = Collections()


async def reload_once(index: IndexWriter) -> dict[str, Any]:
    """Load the copy of the table's current version and say what it cost."""
    memory, store = index._vectors, index._store
    version = await store.version()
    full = COLLECTIONS.seconds, COLLECTIONS.count
    cpu, wall = time.process_time(), time.perf_counter()
    await memory.load(store, version)
    out: dict[str, Any] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    out["gc"] = (COLLECTIONS.seconds - full[0], COLLECTIONS.count - full[1])
    snapshot = memory._snapshot
    out["stages"] = dict(getattr(snapshot, "timings", {}) or {})
    out["analysed"] = getattr(snapshot, "analysed", None)
    return out


def line(label: str, took: dict[str, Any]) -> str:
    stages = "  ".join(f"{k} {v * 1000:.0f}" for k, v in took["stages"].items())
    seconds, count = took["gc"]
    return (
        f"   {label:<16s} wall {took['wall'] * 1000:5.0f} ms  process CPU {took['cpu'] * 1000:5.0f} ms"
        f"  loading thread CPU (ms): {stages or 'n/a'}  full collections {count} ({seconds * 1000:.0f} ms)"
        f"  chunks analysed {took['analysed'] if took['analysed'] is not None else 'all'}"
    )


async def edit(index: IndexWriter, path: Path, marker: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"\n\nEdited for the reload bench: {marker}.\n")
    await index.reindex_paths([path])


async def fold(index: IndexWriter) -> None:
    """Run the fold a watcher's write schedules (one second later) now."""
    if index._fold_timer is not None:
        index._fold_timer.cancel()
        index._fold_timer = None
    await index._fold()


async def window(index: IndexWriter, path: Path) -> str:
    """Searches right after a write until the new copy has loaded (LanceDB answers them)."""
    memory = index._vectors
    await edit(index, path, "window")
    took: list[float] = []
    t0 = time.perf_counter()
    version = await index._store.version()
    while len(took) < 1000 and not (memory._snapshot is not None and memory._snapshot.version == version):
        took.append((await index.search(f"search while the copy reloads {len(took)}", limit=5)).took_ms)
    seconds = time.perf_counter() - t0
    await memory.wait_loaded()
    if not took:
        return "no search answered by LanceDB"
    return (
        f"{len(took)} searches answered by LanceDB in the {seconds:.2f} s until the copy reloaded: "
        f"median {pct(took, 50):.1f} ms, max {max(took):.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="folder to build in and reuse (default: a temp one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    freeze_startup_objects()  # as `personas serve` does (full collections then scan what came after)
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}")
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="reload-bench-"))
    try:
        root, index_dir = await prepared(work, args.corpus, args.copies)
        config = config_for([root], index_dir).model_copy(update={"embedding_cache_dir": default_cache_dir()})
        embedder = make_embedder(None)
        index = IndexWriter(config, embedder)
        await index.start(watch=False)
        status = await index.wait_ready(timeout=1800)
        await index._wait_idle()
        files = sorted(root.rglob("*.md"))
        print(f"== reload of the in-memory copy: {status.chunks} chunks, {len(files)} files")
        print(line("first load", await reload_once(index)))
        index._vectors.in_use = False  # the writer's own reload after each write, timed here instead
        for i in range(args.rounds):
            path = files[(i * 7919) % len(files)]
            await edit(index, path, f"reloadmarker{i}")
            print(line(f"after write {i + 1}", await reload_once(index)))
            await fold(index)
            print(line(f"after its fold {i + 1}", await reload_once(index)))
        index._vectors.in_use = True
        print(f"   window after a write (searches from its end on): {await window(index, files[0])}")
        await index._wait_idle()
        await edit(index, files[1], "later")
        await asyncio.sleep(0.5)
        copy, version = index._vectors._snapshot, await index._store.version()
        loaded = copy is not None and copy.version == version
        viewed = index._view is not None and index._view[0] == version
        response = await index.search("a search half a second after a write", limit=5)
        print(
            f"   a search 0.5 s after a write: {response.took_ms:.1f} ms, {'from the copy' if loaded else 'by LanceDB'}"
            f" ({'with' if viewed else 'without'} the precedence and scopes of the new version ready)"
        )
        print(f"   load average {os.getloadavg()[0]:.1f}")
        await fold(index)
        await index.stop()
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
