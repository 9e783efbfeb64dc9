"""argparse helpers: types with bounds (a bad number is a usage error naming the option's range,
exit 2, never a traceback or a silently clamped value) and the version ``--version`` prints."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any


def whole_number(low: int, high: int, what: str = "a number") -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} ({low}-{high})") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not {what} ({low}-{high})")
        return value

    return parse


#: A TCP port: 0 (any free port) to 65535.
port_number = whole_number(0, 65535, "a port number")


def positive_seconds(text: str) -> float:
    """An argparse type: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds above 0")
    return value


def installed_version() -> str:
    """The installed package's version, for ``personas --version``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("agent-personas")
    except PackageNotFoundError:
        return "(not installed)"


class VersionAction(argparse.Action):
    """``--version``: print the installed version to stdout and exit 0, as argparse's ``version`` action
    does; the package metadata is read only when asked, not at every start (~5 ms)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        kwargs.setdefault("help", "show program's version number and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(f"{parser.prog} {installed_version()}\n")
        parser.exit()
