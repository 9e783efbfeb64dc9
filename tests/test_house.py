"""The house rules a newcomer relies on, checked on the source tree (no imports, no processes):
imports point one way, no code edits ``sys.path``, comments cite only what is in the repository,
a module past 400 lines says in its docstring which one concern it holds, and no big file (a model,
an experiment's scratch output) is committed by mistake."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Highest first: each layer may import only the layers after it.
LAYERS = ["mcp_server", "worker", "personas", "standards"]
CODE_DIRS = [*LAYERS, "scripts", "bench", "tests"]
MAX_LINES = 400
MAX_TRACKED_BYTES = 512 * 1024  # the largest today: starter_vectors.bin, 169 KB


def _python_files(*dirs: str) -> list[Path]:
    return sorted(p for d in dirs for p in (REPO / d).rglob("*.py") if ".venv" not in p.parts)


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_point_one_way(layer: str) -> None:
    """mcp_server → worker → personas → standards; product code never imports tests or bench."""
    higher = set(LAYERS[: LAYERS.index(layer)]) | {"tests", "bench"}
    wrong = {
        str(path.relative_to(REPO)): sorted(_imported_roots(path) & higher)
        for path in _python_files(layer)
        if _imported_roots(path) & higher
    }
    assert not wrong, f"{layer} must not import {sorted(higher)}: {wrong}"


def test_no_code_edits_sys_path() -> None:
    """Benches run as modules from the repository root (``python -m bench.jobs_bench``) and import the
    shared helpers (``tests.redis_process``, ``tests.fakes.anthropic_api``) as packages."""
    edits = [
        f"{path.relative_to(REPO)}:{n}"
        for path in _python_files(*CODE_DIRS)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bsys\.path\s*(\.\s*(insert|append|extend|remove|pop|clear)\b|\[|\+?=)", line)
    ]
    assert not edits, edits


def test_comments_cite_only_what_is_in_the_repository() -> None:
    cited = re.compile(r"DESIGN(\.md)?\s*§|DESIGN\.md|reference spec", re.IGNORECASE)
    files = [*_python_files(*CODE_DIRS), *REPO.glob("*.md"), *(REPO / "docs").rglob("*.md"), REPO / "bench" / "run"]
    hits = [
        f"{path.relative_to(REPO)}:{n}"
        for path in files
        if path != Path(__file__)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if cited.search(line)
    ]
    assert not hits, f"cite docs/architecture.md or a README section instead: {hits}"


def test_long_modules_say_which_one_concern_they_hold() -> None:
    unexplained = []
    for path in _python_files(*LAYERS, "scripts", "bench"):
        lines = path.read_text().count("\n")
        if lines <= MAX_LINES:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if not re.search(r"one concern", doc, re.IGNORECASE):
            unexplained.append(f"{path.relative_to(REPO)} ({lines} lines)")
    assert not unexplained, f"split these, or say in the docstring which one concern each holds: {unexplained}"


def test_tests_never_bound_elapsed_time_from_above() -> None:
    """A test asserts outcomes and order; an upper bound on wall time fails on a loaded machine
    (hang bounds are timeouts that raise, not assertions). Speed is measured by bench/."""
    pattern = re.compile(r"assert .*\b(waited|took|elapsed|duration|seconds)\w*\s*<")
    found = [
        f"{path.relative_to(REPO)}:{n}"
        for path in _python_files("tests")
        if path.name != "test_house.py"
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert not found, f"wall-clock upper bounds in tests: {found}"


def test_no_big_file_is_committed() -> None:
    """Every clone carries every committed byte for ever: a 90 MB ONNX scratch file slipped in once."""
    tracked = (
        subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    big = [
        f"{name} ({(REPO / name).stat().st_size // 1024} KB)"
        for name in tracked
        if name and (REPO / name).is_file() and (REPO / name).stat().st_size > MAX_TRACKED_BYTES
    ]
    assert not big, f"keep these out of git (generate them, or add them to .gitignore): {big}"
