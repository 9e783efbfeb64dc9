"""Keep model-written text in a report from acting as a CI runner's workflow command.

A GitHub Actions runner reads every line a step prints (a lone CR ends a line too): a line that
starts with ``::`` once its leading whitespace is trimmed (``::error file=…::``, ``::add-mask::…``,
``::stop-commands::…``) and ``##[`` anywhere in a line (the older form) are commands, not text. A review report quotes
what the model wrote, so ``personas review`` in CI must not print either form verbatim.
"""

from __future__ import annotations

import re

# ``::`` after optional leading whitespace (what the runner trims), at the start of any line: after a
# newline, or after a lone carriage return, which ends a line for the runner too (.NET's ReadLine).
_LINE_COMMAND = re.compile(r"(?:^|(?<=\r))([ \t\f\v\u00a0\u2000-\u200a\u3000\ufeff]*)::", re.MULTILINE)
_LEGACY_COMMAND = "##["


def neutralise_text(text: str) -> str:
    """Text and Markdown: ``::error`` becomes ``\\::error``, ``##[`` becomes ``##\\[``.

    A backslash before punctuation is an escape in Markdown (it renders as the bare character) and
    reads plainly in a terminal; the runner no longer sees a command either way.
    """
    return _LINE_COMMAND.sub(r"\1\\::", text).replace(_LEGACY_COMMAND, "##\\[")


def neutralise_json(text: str) -> str:
    """JSON and SARIF: ``##[`` can only occur inside a string there, so ``[`` is written ``\\u005b``.

    Pretty-printed JSON never starts a line with ``::`` (newlines in strings are escaped).
    """
    return text.replace(_LEGACY_COMMAND, "##\\u005b")
