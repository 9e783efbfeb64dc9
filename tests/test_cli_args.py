"""Numbers on the command line: out of range is a usage error naming the range (exit 2), never a
silently clamped value (``jobs list --limit -1`` used to list one job) or a traceback."""

from __future__ import annotations

import pytest

from mcp_server.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["jobs", "list", "--limit", "-1"], "-1 is not a number (1-100)"),
        (["jobs", "list", "--limit", "0"], "0 is not a number (1-100)"),
        (["jobs", "list", "--limit", "1000"], "1000 is not a number (1-100)"),
        (["findings", "list", "--limit", "0"], "0 is not a number (1-500)"),
        (["standards", "list", "--limit", "-5"], "-5 is not a number (1-200)"),
        (["standards", "list", "--limit", "many"], "'many' is not a number (1-200)"),
        (["review", "--persona", "security", "--timeout", "-5"], "-5 is not a number of seconds above 0"),
        (["review", "--persona", "security", "--timeout", "0"], "0 is not a number of seconds above 0"),
        (["review", "--persona", "security", "--timeout", "nan"], "nan is not a number of seconds above 0"),
        (["serve", "--http", "--port", "70000"], "70000 is not a port number (0-65535)"),
        (["desk", "--port", "x"], "'x' is not a port number (0-65535)"),
    ],
)
def test_out_of_range_numbers_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"personas {version('agent-personas')}\n"


def test_an_address_the_machine_does_not_have_is_named_as_the_cause_not_a_taken_port() -> None:
    """Binding --host 192.0.2.1 (not this machine's) said "Stop what uses that port or pick another with
    --port": the port was never the problem."""
    from mcp_server.http import BindError, listening_socket

    with pytest.raises(BindError) as refused:
        listening_socket("192.0.2.1", 0)  # TEST-NET-1: never assigned to a machine
    message = str(refused.value)
    assert "cannot listen on 192.0.2.1:0" in message
    assert "192.0.2.1 is not an address of this machine" in message and "--host" in message
    assert "Stop what uses that port" not in message
