"""scripts/serve and scripts/bootstrap (run by scripts/serve and scripts/test), as a new user meets them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SCRIPTS = Path(__file__).parents[2] / "scripts"
BOOTSTRAP = SCRIPTS / "bootstrap"


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


def test_serve_leaves_the_project_root_to_the_server_so_client_roots_can_move_it(tmp_path: Path) -> None:
    """scripts/serve used to export PERSONAS_PROJECT_ROOT=$PWD, which "always wins": Cursor's MCP roots
    (the README's Cursor setup, with no ${workspaceFolder}) could never choose the project."""
    checkout = tmp_path / "agent-personas"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPTS / "serve", checkout / "scripts" / "serve")
    (checkout / "scripts" / "bootstrap").write_text("#!/bin/sh\nexit 0\n")  # installed already
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "personas").write_text(
        '#!/bin/sh\necho "root=${PERSONAS_PROJECT_ROOT-unset} cwd=$(pwd) args=$*"\n'
    )
    for script in ("scripts/serve", "scripts/bootstrap", ".venv/bin/personas"):
        (checkout / script).chmod(0o755)
    project = tmp_path / "my-project"
    project.mkdir()
    done = subprocess.run(
        [str(checkout / "scripts" / "serve"), "--tools", "all"],
        cwd=project,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"root=unset cwd={project} args=serve --tools all\n"
