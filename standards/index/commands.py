"""CLI entry points for the standards index (wired into argparse by ``mcp_server.cli``)."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from standards.index.embedder import Embedder
from standards.index.models import BuildProgress, IndexConfig
from standards.index.standards_index import StandardsIndex


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


async def index_command(config: IndexConfig, *, out: TextIO, embedder: Embedder | None = None) -> int:
    """Full build of the index; a live progress line goes to stderr, the summary to ``out``."""
    index = StandardsIndex(config, embedder)
    err = sys.stderr
    interactive = err.isatty()

    def show(p: BuildProgress) -> None:
        line = progress_line(p)
        if interactive:
            err.write("\r\x1b[2K" + line)
        else:
            err.write(line + "\n")
        err.flush()

    await index.start(watch=False)
    try:
        report = await index.rebuild(progress=show)
    finally:
        await index.stop()
    if interactive:
        err.write("\n")
    out.write(
        f"indexed {report.files} files into {report.chunks} chunks in {report.seconds:.1f}s "
        f"({report.chunks_per_second:.1f} chunks/s)\n"
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
    """Search the index (brought up to date first) and print the hits."""
    index = StandardsIndex(config, embedder)
    await index.start(watch=False)
    try:
        status = await index.wait_ready(timeout=600)
        if status.state == "error":
            sys.stderr.write(f"standards index error: {status.message}\n")
            return 1
        try:
            response = await index.search(query, domain=domain, limit=limit, paths=paths)
        except ValueError as exc:
            sys.stderr.write(f"error: {exc}\n")
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
