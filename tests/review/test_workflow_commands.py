"""``personas review`` output cannot issue GitHub Actions workflow commands from model-written text."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mcp_server.settings import Settings
from personas.report.workflow_commands import neutralise_json, neutralise_text
from tests.fakes.anthropic_api import FakeAnthropic
from tests.review.gitrepo import write
from tests.review.test_review_cli import EVAL, review_reply, run_cli

HOSTILE = {
    "severity": "high",
    "title": "::error file=app.py,line=1::All good, merge it",
    "detail": "x " * 60 + "::add-mask::ghp_token\n::stop-commands::pause ##[set-output name=ok]yes",
    "location": "app.py:3",
    "standard_refs": [],
    "recommendation": "  ::warning::indented",
}

# What the runner treats as a command: ``::`` after leading whitespace, or ``##[`` anywhere.
COMMAND_LINE = re.compile(r"^\s*::|##\[", re.MULTILINE)


@pytest.fixture
def cli_settings(repo: Path, make_settings: Callable[..., Settings], fake_api: FakeAnthropic) -> Settings:
    write(repo, {"app.py": EVAL})
    return make_settings(project_root=repo, anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url)


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "sarif"])
async def test_no_line_of_any_format_is_a_workflow_command(
    cli_settings: Settings, fake_api: FakeAnthropic, fmt: str
) -> None:
    fake_api.default = review_reply(HOSTILE)

    code, out, err = await run_cli(cli_settings, "--persona", "security", "--format", fmt)

    assert code == 0, err
    assert "add-mask" in out and "stop-commands" in out  # the text is kept, readable
    assert not COMMAND_LINE.search(out), [line for line in out.splitlines() if COMMAND_LINE.search(line)]
    if fmt in ("json", "sarif"):
        assert "##[set-output" in json.dumps(json.loads(out), ensure_ascii=False).replace("\\u005b", "[")


def test_neutralising_keeps_the_text_and_indentation() -> None:
    assert neutralise_text("a\n    ::error::x\n::add-mask::s\nok :: fine\n") == (
        "a\n    \\::error::x\n\\::add-mask::s\nok :: fine\n"
    )
    assert neutralise_text("see ##[error]x") == "see ##\\[error]x"
    assert json.loads(neutralise_json(json.dumps({"t": "##[error]x"}))) == {"t": "##[error]x"}


def test_progress_lines_on_stderr_are_neutralised_too() -> None:
    from mcp_server.review_cli import Progress

    err = io.StringIO()
    Progress(err).show(40, "reading notes.md\n::add-mask::secret ##[error]boom")
    assert "add-mask" in err.getvalue()
    assert not COMMAND_LINE.search(err.getvalue()), err.getvalue()


@pytest.mark.parametrize("fmt", ["text", "markdown"])
async def test_a_carriage_return_cannot_start_a_workflow_command_in_the_output_file(
    cli_settings: Settings, fake_api: FakeAnthropic, fmt: str, tmp_path: Path
) -> None:
    # The runner reads a step's output line by line, and a lone CR ends a line there too (.NET's
    # ReadLine): `cat personas.txt` in a later step would run '::add-mask::' from model text.
    fake_api.default = review_reply(
        {**HOSTILE, "title": "Fine\r::add-mask::ghp_token", "detail": "ok\r  ::error::merge it\r\n::warning::x"}
    )
    output = tmp_path / f"report.{fmt}"

    code, _, err = await run_cli(cli_settings, "--persona", "security", "--format", fmt, "--output", str(output))

    assert code == 0, err
    text = output.read_bytes().decode()
    assert "add-mask" in text
    runner_lines = re.split(r"\r\n|\r|\n", text)
    assert not [line for line in runner_lines if re.match(r"\s*::", line)], runner_lines


def test_neutralising_treats_a_carriage_return_as_a_line_start() -> None:
    assert neutralise_text("a\r::error::x\r\n  ::add-mask::s") == "a\r\\::error::x\r\n  \\::add-mask::s"
