"""Run a short Python script in a fresh interpreter and read back the JSON it prints last.

For tests that must see a process from its start (what start-up imports, the collector's state):
the interpreter starts clean, with this checkout first on the path and no ``PERSONAS_*`` settings
from the caller's environment unless given in ``env``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run_probe(code: str, *, cwd: Path, args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Any:
    """Run ``code`` with ``python -c`` (stdin empty) and return the JSON of its last stdout line."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_")) and k != "REDIS_URL"}
    clean.update(env or {}, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=clean,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,  # a hang bound
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
