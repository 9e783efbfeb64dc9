"""Stopping ``serve`` (stdio and HTTP) and ``desk`` while their embedded Redis has stopped answering
(SIGSTOP: hung, paused, partitioned). The graceful stop ends by itself, each wait on Redis bounded
(worker/arq_compat.py: close_worker, then the embedded Redis is killed), exit 0. A second
SIGTERM/Ctrl-C cuts that short: exit at once with 128 + its number, saying what it did not wait
for; the kernel then stops the embedded Redis."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.redis_process import free_port
from tests.test_serve_stdio import _gone, personas_process, redis_pids_for


def _logged(log: Path, *parts: str) -> Callable[[], Any]:
    async def probe() -> bool:
        text = log.read_text(errors="replace")
        return any(all(part in line for part in parts) for line in text.splitlines())

    return probe


COMMANDS = {
    "desk": lambda port: ["desk", "--port", str(port)],
    "serve-http": lambda port: ["serve", "--http", "--port", str(port)],
    "serve-stdio": lambda port: ["serve"],
}


@pytest.mark.parametrize(
    ("command", "sig"),
    [("desk", signal.SIGINT), ("serve-http", signal.SIGTERM), ("serve-stdio", signal.SIGTERM)],
    ids=["desk-ctrl-c", "serve-http-sigterm", "serve-stdio-sigterm"],
)
async def test_a_second_signal_stops_at_once_when_the_graceful_stop_hangs(
    project: Path, tmp_path: Path, command: str, sig: signal.Signals
) -> None:
    log = tmp_path / "stop.log"
    data_dir = project / ".agent-os" / "data"
    with personas_process(COMMANDS[command](free_port()), project, log, stdin_open=True) as proc:
        await wait_for(_logged(log, "worker", "ready (lease"), timeout=60, what="the in-process worker to start")
        [redis_pid] = redis_pids_for(data_dir)
        os.kill(redis_pid, signal.SIGSTOP)  # Redis stops answering: the stop waits on it
        try:
            proc.send_signal(sig)
            await wait_for(_logged(log, f"{sig.name} received: stopping"), timeout=30, what="the first signal")
            # the graceful stop now waits on Redis (5 s, then 5 s more for it to exit): cut it short
            proc.send_signal(sig)
            code = await asyncio.to_thread(proc.wait, 60)  # a hang bound, generous for a loaded machine
        finally:
            with suppress(ProcessLookupError):
                os.kill(redis_pid, signal.SIGCONT)  # it then takes the kernel's SIGTERM (its parent died)
    err = log.read_text(errors="replace")
    assert code == 128 + sig, err
    name = COMMANDS[command](0)[0]
    said = f"{sig.name} again: personas {name} stops now (exit code {128 + sig}), without waiting for"
    assert said in err and "requests in flight and the resources to close" in err, err
    assert "Traceback" not in err, err
    await wait_for(_gone(data_dir), timeout=30, what="the embedded Redis to stop with the process")


async def test_the_graceful_stop_ends_by_itself_when_redis_stopped_answering(project: Path, tmp_path: Path) -> None:
    log = tmp_path / "stop.log"
    data_dir = project / ".agent-os" / "data"
    with personas_process(["desk", "--port", str(free_port())], project, log, stdin_open=True) as proc:
        await wait_for(_logged(log, "worker", "ready (lease"), timeout=60, what="the in-process worker to start")
        [redis_pid] = redis_pids_for(data_dir)
        os.kill(redis_pid, signal.SIGSTOP)
        try:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 60)  # a hang bound: it used to wait for Redis for ever
        finally:
            with suppress(ProcessLookupError):
                os.kill(redis_pid, signal.SIGCONT)
    err = log.read_text(errors="replace")
    assert code == 0, err
    assert "Traceback" not in err, err
    assert "Redis did not answer within 5 s while the worker stopped; not waiting for it" in err
    assert "desk stopped" in err  # the state closed in full
    await wait_for(_gone(data_dir), timeout=30, what="the embedded Redis to be stopped")


@pytest.mark.parametrize("command", ["desk", "serve-http"])
async def test_ctrl_c_in_a_terminal_stops_the_worker_before_the_embedded_redis(
    project: Path, tmp_path: Path, command: str
) -> None:
    """A terminal sends Ctrl-C's SIGINT to its whole foreground process group: the embedded Redis
    must not take it (it stopped at once, under the worker still handing its jobs back, and under
    the other servers of the project sharing it); the server stops it, last."""
    log = tmp_path / "stop.log"
    data_dir = project / ".agent-os" / "data"
    with personas_process(COMMANDS[command](free_port()), project, log, stdin_open=True, own_group=True) as proc:
        await wait_for(_logged(log, "worker", "ready (lease"), timeout=60, what="the in-process worker to start")
        [redis_pid] = redis_pids_for(data_dir)
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        code = await asyncio.to_thread(proc.wait, 60)  # a hang bound
    err = log.read_text(errors="replace")
    assert code == 0, err
    assert "SIGINT received: stopping" in err
    assert "Redis unavailable" not in err, err  # the worker stopped while its Redis was still up
    assert "Traceback" not in err, err
    assert redis_pid not in redis_pids_for(data_dir)  # and the server stopped Redis itself
    await wait_for(_gone(data_dir), timeout=30, what="the embedded Redis to be stopped")
