"""scripts/bootstrap (run by scripts/serve and scripts/test) on a machine whose python3 is too old."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

BOOTSTRAP = Path(__file__).parents[2] / "scripts" / "bootstrap"


def test_a_python_older_than_3_11_is_named_before_anything_is_created(tmp_path: Path) -> None:
    checkout = tmp_path / "agent-personas"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(BOOTSTRAP, checkout / "scripts" / "bootstrap")
    (checkout / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    old = tmp_path / "python3.9"  # answers like Debian 11's python3
    old.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python 3.9.2"; exit 0; fi\nexit 1\n')
    old.chmod(0o755)
    done = subprocess.run(
        [str(checkout / "scripts" / "bootstrap")],
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(old)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"needs Python 3.11 or newer, but {old} is Python 3.9.2" in done.stderr
    assert "PYTHON=python3.12" in done.stderr
    assert not (checkout / ".venv").exists()
