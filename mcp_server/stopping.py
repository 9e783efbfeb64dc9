"""How the long-running commands (``serve``, ``desk``, ``worker``) stop on SIGTERM, SIGINT or SIGHUP.

- **First signal: a graceful stop.** Logged, then the command's own stop runs to its end: ``serve
  --http`` and ``desk`` stop listening, let requests in flight finish (bounded) and close their
  resources; stdio ``serve`` and ``worker`` have their task cancelled, so every context manager
  unwinds (a worker hands its running jobs back to the queue).
- **Second signal, while that runs: stop now.** For when closing hangs (a Redis that stopped
  answering, a stuck worker): the process logs what it did not wait for and exits at once with
  128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM), as a shell reports a process killed
  by that signal. Nothing is lost: jobs the process was running come back when their lease lapses,
  and the kernel stops an embedded Redis with the process that started it.

These handlers are the only ones: uvicorn's own signal handling is off (:func:`mcp_server.http.web_server`).
It would see each signal too, and raise it again once it stopped, which would read as a second signal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

log = logging.getLogger("personas")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


async def run_until_signal(
    main: asyncio.Task[None],
    *,
    command: str,
    unfinished: str,
    closed: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run ``main`` to its end, stopping it on the first signal: set ``stop`` (``main`` shuts down by
    itself) or, without one, cancel ``main``. On a second signal exit at once, saying that
    ``unfinished`` (what a full stop would have done) is left to the lease and the kernel.

    The stdio transport reads stdin in a thread that cancellation cannot interrupt; once
    ``closed`` is set (all resources released) after a signal, we stop waiting for it and exit.
    """
    loop = asyncio.get_running_loop()
    received: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        if received:
            log.warning(
                "%s again: %s stops now (exit code %d), without waiting for %s",
                sig.name,
                command,
                128 + sig,
                unfinished,
            )
            logging.shutdown()
            os._exit(128 + sig)
        received.append(sig)
        log.info("%s received: stopping %s (send it again to stop at once, without waiting)", sig.name, command)
        if stop is not None:
            stop.set()
        else:
            main.cancel()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    closed_wait = asyncio.ensure_future(closed.wait()) if closed is not None else None
    waiters: set[asyncio.Future[Any]] = {main} if closed_wait is None else {main, closed_wait}
    while True:
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if main in done:
            break
        if received:
            log.info("resources released; exiting")
            logging.shutdown()
            os._exit(0)
        waiters = {main}
    if closed_wait is not None:
        closed_wait.cancel()
    if not main.cancelled():
        main.result()
