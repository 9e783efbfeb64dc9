"""scripts/bootstrap keeps one stamp: a dev install (scripts/test, bench/run) is a superset of the plain
one (scripts/serve), so switching between them installs nothing; plain → dev installs once. Run on a
copy of the script with a stand-in venv python that records each call instead of running pip."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

RECORDER = '#!/bin/sh\necho "$*" >> "$(dirname "$0")/../../calls.log"\n'


def _checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "scripts" / "bootstrap", root / "scripts" / "bootstrap")
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(RECORDER)
    python.chmod(0o755)
    return root


def _installs(root: Path, *argv: str) -> list[str]:
    """Run the bootstrap; the project installs it made (pip install -e …)."""
    log = root / "calls.log"
    log.unlink(missing_ok=True)
    done = subprocess.run(
        ["bash", str(root / "scripts" / "bootstrap"), *argv], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # stdout may be an MCP channel
    calls = log.read_text().splitlines() if log.exists() else []
    return [c for c in calls if "install -e" in c]


def test_a_dev_install_satisfies_the_plain_one_and_plain_to_dev_installs_once(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    dev = _installs(root, "--dev")
    assert len(dev) == 1 and dev[0].endswith(f"install -e {root}[dev]")
    assert _installs(root) == []  # scripts/serve after scripts/test: nothing to install
    assert _installs(root, "--dev") == []
    other = _checkout(tmp_path / "other")
    assert len(_installs(other)) == 1  # plain first
    assert _installs(other, "--dev") == [f"-m pip --disable-pip-version-check -q install -e {other}[dev]"]
    assert _installs(other) == [] and _installs(other, "--dev") == []


def test_a_changed_pyproject_installs_again(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    assert len(_installs(root, "--dev")) == 1
    with (root / "pyproject.toml").open("a") as handle:
        handle.write("\n# a new dependency\n")
    assert len(_installs(root)) == 1


def test_stamps_of_the_older_bootstrap_are_honoured(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    assert len(_installs(root, "--dev")) == 1
    stamp = root / ".venv" / ".installed"
    want = stamp.read_text().split()[0]
    stamp.unlink()
    (root / ".venv" / ".installed-dev").write_text(want + "\n")  # what the older script wrote for --dev
    assert _installs(root) == [] and _installs(root, "--dev") == []
    (root / ".venv" / ".installed-dev").unlink()
    stamp.write_text(want + "\n")  # ... and for a plain install
    assert _installs(root) == []
    assert len(_installs(root, "--dev")) == 1
    assert not (root / ".venv" / ".installed-dev").exists() and stamp.read_text().split() == [want, "dev"]
