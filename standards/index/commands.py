"""CLI entry points for the standards index (wired into argparse by ``mcp_server.cli``).

Neither command ever opens the index as a second writer: ``personas index`` builds it itself when
no other process writes the folder, else hands the rebuild to the process that does (a running
server) and waits for it; ``personas search`` reads the running server's index, or brings the index
up to date itself when nothing else writes it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TextIO

from standards.index import handoff
from standards.index.embedder import Embedder
from standards.index.models import BuildProgress, BuildReport, IndexConfig
from standards.index.reader import IndexReader
from standards.index.searcher import IndexSearcher
from standards.index.writer import IndexWriter
from standards.index.writer_lock import WriterLock, describe_holder, writer_running

#: Longest wait for a running server to finish a handed-over rebuild.
HANDOFF_TIMEOUT_SECONDS = 3600.0


def _format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes:02d}:{secs:02d}"


def progress_line(p: BuildProgress) -> str:
    return (
        f"indexing: {p.files_done}/{p.files_total} files, {p.chunks_done} chunks, "
        f"{p.chunks_per_second:.1f} chunks/s, ETA {_format_eta(p.eta_seconds)}"
    )


async def _build_here(config: IndexConfig, embedder: Embedder | None, lock: WriterLock, err: TextIO) -> BuildReport:
    interactive = err.isatty()

    def show(p: BuildProgress) -> None:
        line = progress_line(p)
        err.write("\r\x1b[2K" + line if interactive else line + "\n")
        err.flush()

    writer = IndexWriter(config, embedder, lock=lock)
    await writer.start(watch=False, reconcile=False)
    try:
        report = await writer.rebuild(progress=show)
    finally:
        await writer.stop()
    if interactive:
        err.write("\n")
    return report


async def _hand_over(config: IndexConfig, err: TextIO) -> BuildReport | None:
    """Ask the running writer to rebuild; None if it stopped before doing so."""
    index_dir = config.index_dir
    err.write(
        f"personas index: the standards index is written by {describe_holder(index_dir)}; "
        "handing the rebuild to it and waiting for it to finish\n"
    )
    err.flush()
    request = await asyncio.to_thread(handoff.submit, index_dir, "rebuild")
    try:
        answer = await handoff.wait_answer(
            index_dir, request, timeout=HANDOFF_TIMEOUT_SECONDS, writer_alive=lambda: writer_running(index_dir)
        )
    except handoff.HandoffFailed as exc:
        if writer_running(index_dir):
            raise
        err.write(f"personas index: {exc}; building the index here instead\n")
        return None
    return BuildReport.model_validate(answer)


async def index_command(config: IndexConfig, *, out: TextIO, embedder: Embedder | None = None) -> int:
    """Full build of the index; progress goes to stderr, the summary to ``out``."""
    err = sys.stderr
    lock = WriterLock(config.index_dir)
    while True:
        if await asyncio.to_thread(lock.try_acquire):
            report = await _build_here(config, embedder, lock, err)
            who = "indexed"
            break
        try:
            handed = await _hand_over(config, err)
        except (handoff.HandoffFailed, TimeoutError) as exc:
            err.write(f"personas index: the running server could not rebuild the index: {exc}\n")
            return 1
        if handed is not None:
            report, who = handed, "the running server indexed"
            break
    out.write(
        f"{who} {report.files} files into {report.chunks} chunks in {report.seconds:.1f}s "
        f"({report.chunks_per_second:.1f} chunks/s); full-text index: {report.fts_indexed_rows} rows indexed, "
        f"{report.fts_unindexed_rows} unindexed\n"
    )
    for skipped in report.skipped:
        out.write(f"skipped: {skipped}\n")
    return 0


async def search_command(
    config: IndexConfig,
    query: str,
    *,
    domain: str | None,
    limit: int,
    as_json: bool,
    out: TextIO,
    embedder: Embedder | None = None,
    paths: list[str] | None = None,
) -> int:
    """Search the index (brought up to date first when no server keeps it fresh) and print the hits."""
    lock = WriterLock(config.index_dir)
    index: IndexSearcher
    if await asyncio.to_thread(lock.try_acquire):
        index = IndexWriter(config, embedder, lock=lock)
    else:
        index = IndexReader(config, embedder)
    await index.start(watch=False)
    try:
        status = await index.wait_ready(timeout=600)
        if status.state == "error":
            sys.stderr.write(f"standards index error: {status.message}\n")
            return 1
        try:
            response = await index.search(query, domain=domain, limit=limit, paths=paths)
        except ValueError as exc:
            sys.stderr.write(f"personas search: {exc}\n")
            return 2
    finally:
        await index.stop()
    if as_json:
        out.write(json.dumps(response.model_dump(mode="json"), indent=2) + "\n")
        return 0
    if not response.results:
        out.write("no matching standards\n")
        return 0
    for i, hit in enumerate(response.results, start=1):
        heading = " > ".join(hit.heading_path)
        out.write(f"{i}. [{hit.score:.3f}] {hit.source}/{hit.file} — {heading}\n")
        if hit.paths or hit.overrides:
            notes = [f"governs {', '.join(hit.paths)}"] if hit.paths else []
            notes += [f"overrides {', '.join(hit.overrides)}"] if hit.overrides else []
            out.write(f"   ({'; '.join(notes)})\n")
        snippet = " ".join(hit.text.split())
        out.write(f"   {snippet[:300]}{'…' if len(snippet) > 300 else ''}\n")
    return 0
