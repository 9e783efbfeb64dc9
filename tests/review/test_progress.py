"""`personas review` progress on stderr: one redrawn bar on a terminal, a plain line per change otherwise."""

from __future__ import annotations

import io

from mcp_server.review_cli import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_redrawn_bar() -> None:
    err = Terminal()
    progress = Progress(err)
    progress.show(0, "Starting")
    progress.show(50, "security 50% · qa 50%")
    progress.show(100, "Complete")
    progress.done()
    text = err.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "[###############...............]  50% security 50% · qa 50%" in text
    assert "[##############################] 100% Complete" in text


def test_a_pipe_gets_a_line_per_change() -> None:
    err = io.StringIO()
    progress = Progress(err)
    for percent, message in ((0, "Starting"), (10, "Starting"), (40, "Reading app.py"), (100, "Complete")):
        progress.show(percent, message)
    progress.done()
    assert err.getvalue().splitlines() == [
        "personas review:   0% Starting",
        "personas review:  40% Reading app.py",
        "personas review: 100% Complete",
    ]
    assert "\r" not in err.getvalue()
