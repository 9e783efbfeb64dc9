"""Run the installed ``personas`` command as a user at a terminal would: a clean environment (no
PERSONAS_* set unless given), the hashing embedder, a working directory of the test's choosing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PERSONAS_BIN = str(Path(sys.executable).with_name("personas"))


def user_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PERSONAS_", "ANTHROPIC_")) and k not in ("REDIS_URL", "PYTHONWARNINGS")
    }
    env.update(PERSONAS_EMBEDDER="hashing", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.update(extra)
    return env


def personas(*argv: str, cwd: Path, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PERSONAS_BIN, *argv],
        check=False,
        cwd=cwd,
        env=user_env(**env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def standards_project(tmp_path: Path) -> Path:
    """A project with one standard (``api/paging.md``, about okapi cursors) under ``.agent-os/standards``."""
    project = tmp_path / "project"
    standards = project / ".agent-os" / "standards" / "api"
    standards.mkdir(parents=True)
    (standards / "paging.md").write_text("# Paging\n\nUse opaque cursors for okapi collections.\n")
    return project
