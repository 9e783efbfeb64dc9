"""Serve first, open the stores meanwhile: the lifespan state while the job system starts.

An assistant spawns ``personas serve`` and waits for ``initialize`` and ``tools/list`` before it can
do anything. Neither needs the job store, Redis, the worker or the index: they are built from the
settings and the persona files. So the server's lifespan hands the SDK a :class:`Starting` at once
and opens everything else (:func:`mcp_server.app.open_app`) on a task of its own, and the
:func:`wait_for_start` middleware makes the requests that use the state (tool calls, resource
reads, prompts, completions) wait for that task and see what it opened (the AppState, or
Unavailable with the reason), as if the lifespan had yielded it. A
notification never waits (it would hold up the messages behind it); a handler that needs the
state later registers with :meth:`Starting.when_started` (the roots of the session).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Requests whose handlers use the server's state (tools, resources, prompts, completions): they
#: wait for the start. Every other request (initialize, server/discover, ping, the lists,
#: logging/setLevel) is answered from what the server was built with.
USES_STATE = frozenset(
    {
        "tools/call",
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "prompts/get",
        "completion/complete",
    }
)


class Starting(Generic[T]):
    """What the lifespan yields while the stores open: the state they open to, once they have."""

    def __init__(self) -> None:
        self._started = asyncio.Event()
        self._wanted = asyncio.Event()
        self._state: T | None = None
        self._waiting: list[Callable[[T], None]] = []

    @property
    def started(self) -> bool:
        return self._started.is_set()

    def state(self) -> T:
        """The state opened (call once :attr:`started`)."""
        if self._state is None:
            raise RuntimeError("the server has not started yet")
        return self._state

    def start(self, state: T) -> None:
        """The stores are open (or could not open: ``state`` says why): requests waiting go on."""
        self._state = state
        self._started.set()
        waiting, self._waiting = self._waiting, []
        for callback in waiting:
            try:
                callback(state)
            except Exception:  # one callback's failure must not stop the others, nor the start
                log.exception("a start-up callback failed")

    def want(self) -> None:
        """The stores are wanted now (the client has its tools, or a request needs the state)."""
        self._wanted.set()

    async def opening_wanted(self, *, within: float) -> None:
        """Return once :meth:`want` was called, or after ``within`` seconds at most."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wanted.wait(), within)

    async def wait(self) -> T:
        self._wanted.set()
        await self._started.wait()
        return self.state()

    def when_started(self, callback: Callable[[T], None]) -> None:
        """Call ``callback`` with the state once started (at once if started already)."""
        if self.started:
            callback(self.state())
        else:
            self._waiting.append(callback)


async def wait_for_start(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware: a request that may use the server's state waits until it is open, and its
    handler sees that state (not the :class:`Starting`) as the lifespan context."""
    starting = ctx.lifespan_context
    if isinstance(starting, Starting):
        if starting.started:
            ctx.lifespan_context = starting.state()
        elif ctx.request_id is not None and ctx.method in USES_STATE:
            ctx.lifespan_context = await starting.wait()
        elif ctx.method == "tools/list":
            try:
                return await call_next(ctx)
            finally:  # the client has what it waited for: the stores may open now
                starting.want()
    return await call_next(ctx)
