"""The CLI's log handler writes to the stderr of the moment, never to a stream that was closed."""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_server.cli import main


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("PERSONAS_") or name in ("REDIS_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(tmp_path))


@pytest.fixture
def root_logging() -> Iterator[None]:
    """``main()`` configures the root logger (``force=True``); give pytest its own handlers back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_logs_after_an_in_process_command_go_to_the_current_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    lent = io.StringIO()  # what a test harness lends as stderr while main() runs, then closes
    monkeypatch.setattr(sys, "stderr", lent)
    assert main(["new", "accessibility", "--from", "security"]) == 0
    assert "Created" in lent.getvalue()
    later = io.StringIO()
    monkeypatch.setattr(sys, "stderr", later)
    lent.close()
    # e.g. the index's start-up copy logging from a thread after the command returned
    logging.getLogger("standards.index.bootstrap").warning("start-up copy skipped: %d of %d chunks", 222, 222)
    assert "Logging error" not in later.getvalue()
    assert "start-up copy skipped: 222 of 222 chunks" in later.getvalue()


@pytest.mark.usefixtures("root_logging")
def test_a_logged_tracebacks_text_cannot_forge_lines_or_reach_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The message was one line, but a traceback's last line is the exception's text, which quotes file
    names and parser errors: a newline in it started a forged record, an escape sequence reached the terminal."""
    from mcp_server.log_setup import configure_logging

    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    configure_logging("INFO")
    try:
        raise ValueError("bad front matter in evil\x1b[2J\n2026-01-01 00:00:00 INFO forged: all reviews passed.md")
    except ValueError:
        logging.getLogger("standards.index.sources").warning("skipped a file", exc_info=True)
    text = stderr.getvalue()
    assert "\x1b" not in text and "forged" in text
    lines = text.splitlines()
    assert lines[0].endswith("WARNING standards.index.sources: skipped a file")
    assert all(line.startswith((" ", "Traceback")) for line in lines[1:]), lines  # no line passes for a record
