"""Resident memory of a standalone worker after it has searched the standards (prints one line).

    python -m bench.worker_probe "question" ["question" ...]

Opens exactly what ``personas worker`` opens (``open_worker_deps``: job and proposal stores, the
read-only standards index, the persona registry), imports the arq worker, runs the given searches
through the runs' toolbox, and prints ``worker RSS <MB> MB``. Settings come from the environment
(``PERSONAS_PROJECT_ROOT`` …), as for the real worker.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main(queries: list[str]) -> None:
    import worker.app  # noqa: F401  (the worker's own modules, as `personas worker` loads them)
    from mcp_server.app import open_worker_deps
    from mcp_server.settings import Settings

    async with open_worker_deps(Settings()) as deps:
        search = deps.toolbox.search if deps.toolbox is not None else None
        if search is None:
            raise SystemExit("the worker has no standards search")
        for query in queries:
            await search.search(query, limit=5)
        print(f"worker RSS {rss_mb():.0f} MB after {len(queries)} searches")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or ["warm up"]))
