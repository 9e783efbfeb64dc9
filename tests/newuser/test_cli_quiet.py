"""A one-shot command prints its answer: no INFO log lines on stderr unless -v (or PERSONAS_LOG_LEVEL)
asks for them; warnings that matter (a skipped file) still show."""

from __future__ import annotations

import json
from pathlib import Path

from tests.newuser.cli_run import personas
from tests.newuser.cli_run import standards_project as _project


def test_search_prints_the_answer_and_no_info_lines(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = personas("search", "okapi cursors", "--limit", "1", cwd=project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1. ") and "api/paging.md" in done.stdout
    assert done.stderr == ""  # the index reconciled: an INFO line nobody asked for


def test_verbose_or_an_explicit_log_level_brings_the_info_lines_back(tmp_path: Path) -> None:
    project = _project(tmp_path)
    for done in (
        personas("search", "okapi", "-v", cwd=project),
        personas("search", "okapi", cwd=project, PERSONAS_LOG_LEVEL="INFO"),
    ):
        assert done.returncode == 0, done.stderr
        assert " INFO standards.index.writer: standards index reconciled" in done.stderr, done.args


def test_index_prints_progress_and_its_summary_only(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / ".agent-os" / "standards" / "api" / "latin1.md").write_bytes(b"# Caf\xe9\n")
    done = personas("index", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "indexed " in done.stdout and "skipped: project/api/latin1.md: invalid UTF-8" in done.stdout
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith("indexing: ") or " WARNING " in line for line in lines), lines
    assert any("latin1.md" in line and " WARNING " in line for line in lines)  # a warning still shows


def test_search_json_stays_parseable_and_quiet(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = personas("search", "okapi cursors", "--json", cwd=project)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert json.loads(done.stdout)["results"][0]["file"] == "api/paging.md"
