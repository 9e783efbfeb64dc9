"""Control characters: refused in what people propose, escaped in everything the CLI prints.

Terminal escape sequences (ESC, CSI), other C0/C1 controls, carriage returns and Unicode
bidirectional overrides can hide or reorder text on a terminal, so a standard shown to its
human approver could read differently from what gets written. One character class serves both
uses: :func:`find_control` refuses them in proposed text (tab, newline and CR allowed there),
:func:`escape_controls` makes them visible (``\\x1b``, ``\\u202e``) in CLI output.
"""

from __future__ import annotations

import io
import re
from typing import TextIO, cast

# C0 except tab and newline, DEL, C1, line/paragraph separators, bidi embeddings/overrides/isolates
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    # DEL and above as \\uXXXX: JSON serialisers leave DEL, C1 and bidi characters raw, and inside a
    # JSON string '\\u0085' is a valid escape of the same character ('\\x85' would break the JSON).
    # C0 characters reach a JSON string already escaped by the serialiser.
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x7F else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with every control character shown as an escape; newlines and tabs are kept."""
    return _CONTROL.sub(_visible, text)


def one_line(text: str) -> str:
    """``text`` (a file name, a heading) as one visible line: newlines and tabs escaped too, so a name put
    in a prompt outside its data block, or in a log line, cannot start lines of its own there."""
    return escape_controls(text).replace("\n", "\\n").replace("\t", "\\t")


def find_control(text: str) -> tuple[int, str] | None:
    """(1-based line, escaped character) of the first control character other than CR, or None."""
    for match in _CONTROL.finditer(text):
        if match.group(0) != "\r":
            return text.count("\n", 0, match.start()) + 1, _visible(match)
    return None


def check_no_controls(field: str, text: str) -> None:
    """Raise ValueError naming the field, line and character when ``text`` holds a control character."""
    found = find_control(text)
    if found is not None:
        line, char = found
        raise ValueError(
            f"{field} line {line} contains the control character {char}; terminal escape sequences, bidi "
            "overrides and other control characters are not allowed in standards (they can hide text from "
            "the approver). Remove it."
        )


class _EscapingWriter(io.TextIOBase):
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(escape_controls(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def __getattr__(self, name: str) -> object:  # encoding, errors, …: those of the wrapped stream
        return getattr(self._stream, name)


def terminal_safe(stream: TextIO) -> TextIO:
    """A text stream that escapes control characters before writing them to ``stream``."""
    return cast(TextIO, _EscapingWriter(stream))
