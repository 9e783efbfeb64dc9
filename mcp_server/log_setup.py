"""The CLI's logging set-up: records go to stderr (stdout belongs to the protocol)."""

from __future__ import annotations

import logging
import sys
from typing import Any


class _StderrHandler(logging.StreamHandler[Any]):
    """Writes each record to ``sys.stderr`` as it is when the record is emitted, not as it was when
    logging was set up: a command swaps ``sys.stderr`` for an escaping wrapper while it runs, and a
    caller running ``main()`` in-process (tests) closes the stream it lent; a handler holding the
    old object would write to a closed file ("--- Logging error ---") from every later log call."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always the current sys.stderr


class _OneLineFormatter(logging.Formatter):
    """A record's message on one line with control characters escaped (``\\n``, ``\\x1b``): messages
    quote file names, git errors and model text, and ``serve``'s stderr is not escaped otherwise (a
    file named ``x\\n… INFO forged`` would forge a log line, an escape sequence reach the terminal).
    A traceback keeps its lines, escaped too, and each after its first starts with a space: its last
    line is the exception's text, which quotes file names and parser errors as well."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        from standards.control_chars import one_line

        record.message = one_line(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        from standards.control_chars import escape_controls

        first, *rest = escape_controls(super().formatException(ei)).split("\n")
        return "\n".join([first, *(line if line.startswith(" ") else f"  {line}" for line in rest)])


def configure_logging(level: str) -> None:
    """Root logging at ``level`` to the current stderr, the chatty libraries held at WARNING."""
    handler = _StderrHandler()
    handler.setFormatter(_OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(handlers=[handler], level=level, force=True)
    for noisy in ("httpx", "httpcore", "arq.worker" if level != "DEBUG" else ""):
        if noisy:
            logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
