"""``personas desk`` stops like ``serve --http``: asked to exit on SIGTERM/Ctrl-C, uvicorn closes the
connections, then the project's state closes (Redis stops), exit 0, no traceback."""

from __future__ import annotations

import asyncio
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.redis_process import free_port
from tests.test_serve_stdio import assert_stopped_cleanly, personas_process


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status) == 200
    except urllib.error.HTTPError:
        return True  # listening
    except (urllib.error.URLError, ConnectionError):
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
async def test_a_signal_stops_the_desk_cleanly(project: Path, tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    log = tmp_path / "desk.log"
    url = f"http://127.0.0.1:{port}/"
    with personas_process(["desk", "--port", str(port)], project, log) as proc:

        async def up() -> bool:
            return await asyncio.to_thread(_answers, url)

        await wait_for(up, timeout=60, what="the desk to answer")
        proc.send_signal(sig)
        code = await asyncio.to_thread(proc.wait, 60)  # a hang bound, generous for a loaded machine
    # "desk stopped" is logged once the project's state has closed in full (not cut short by a cancel).
    await assert_stopped_cleanly(code, log, project, "desk stopped")
