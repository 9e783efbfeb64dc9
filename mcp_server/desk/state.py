"""The light part of the desk that the server imports: where the desk finds the open app state.

Kept apart from the pages so ``personas serve`` does not import templates and charts unless the
desk is served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp_server.state import AppState


class DeskUnavailable(RuntimeError):
    """The server's resources are not open (yet, or any more)."""


class StateRef:
    """The app state of a running server, for the desk mounted beside it (set while it is open)."""

    def __init__(self) -> None:
        self.state: AppState | None = None

    def __call__(self) -> AppState:
        if self.state is None:
            raise DeskUnavailable("the server is starting or stopping; reload in a moment")
        return self.state
