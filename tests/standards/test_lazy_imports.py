"""Starting the server imports none of the heavy search libraries nor the job system: they load on a
thread once the client has the tool list (Redis, arq, the stores, the index: mcp_server.app), once
the server is up (LanceDB, the model runtime) or with the first in-memory copy of the index (numpy,
bm25s, PyStemmer), so `tools/list` never waits for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.probe import run_probe

HEAVY = [
    "lancedb",
    "pyarrow",
    "numpy",
    "onnxruntime",
    "tokenizers",
    "bm25s",
    "Stemmer",
    "scipy",
    "torch",
    "sentence_transformers",
    "transformers",
    "anthropic",
    "rich",  # the SDK's logging set-up imports it for a handler that goes unused once the CLI set up logging
    # The job system and the index's store: opened after tools/list (mcp_server.server, OPEN_AFTER_SECONDS).
    "redis",
    "arq",
    "aiosqlite",
    "filelock",
    "wcmatch",
    "watchdog",
    "mcp_server.app",
    "worker.service",
    "worker.store",
    "standards.index.searcher",
]

PROBE = """
import json, sys
import mcp_server.cli as cli
cli.build_parser()
from mcp_server.log_setup import configure_logging
configure_logging("WARNING")  # as `personas serve` does before it builds the server
from mcp_server.server import build_server
from mcp_server.settings import Settings
build_server(Settings())
print(json.dumps({"loaded": [m for m in HEAVY if m in sys.modules], "server": "mcp_server.server" in sys.modules}))
"""


def _probe(tmp_path: Path, before: str = "") -> dict[str, Any]:
    """Run the probe in a fresh interpreter (``before``: code run first) and return its report."""
    report: dict[str, Any] = run_probe(
        f"HEAVY = {HEAVY!r}\n{before}{PROBE}", cwd=tmp_path, env={"PERSONAS_PROJECT_ROOT": str(tmp_path)}
    )
    return report


def test_building_the_server_imports_no_heavy_library(tmp_path: Path) -> None:
    assert _probe(tmp_path) == {"loaded": [], "server": True}


def test_the_probe_sees_an_eager_import(tmp_path: Path) -> None:
    """The probe itself works: a library imported on the way is reported."""
    assert _probe(tmp_path, "import numpy\n")["loaded"] == ["numpy"]
