"""`personas serve` as a user's MCP client runs it: over stdio, on the embedded default."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic

PERSONAS_BIN = str(Path(sys.executable).with_name("personas"))


def _env(project: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_")) and k != "REDIS_URL"}
    env.update(
        PERSONAS_PROJECT_ROOT=str(project),
        PERSONAS_QUEUE_POLL_INTERVAL="0.02",
        PERSONAS_EMBEDDER="hashing",
        **extra,
    )
    return env


def redis_pids_for(data_dir: Path) -> list[int]:
    """Live redis-server processes started for this data dir (``--dir`` makes it their cwd)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
            cwd = (entry / "cwd").resolve()
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if b"redis-server" in title and cwd == data_dir.resolve() and state != "Z":
            pids.append(int(entry.name))
    return pids


async def test_stdio_client_invokes_security_and_gets_the_review(project: Path, fake_api: FakeAnthropic) -> None:
    fake_api.add(fake.text("Finding: plaintext password comparison in app.py:2."))
    params = StdioServerParameters(
        command=PERSONAS_BIN,
        args=["serve"],
        env=_env(project, ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=fake_api.base_url),
    )
    data_dir = project / ".agent-os" / "data"
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"invoke_security", "wait_for_persona_job"} <= names  # the default (developer) profile
        # tools/list is answered while the server starts (mcp_server/starting.py): Redis comes up meanwhile.
        await wait_for(_present(data_dir), timeout=30, what="the server's own redis-server")
        started = await client.call_tool("invoke_security", {"task": "review this", "context": "app.py"})
        assert not started.is_error, started.content
        job_id = (started.structured_content or {})["job_id"]

        async def finished() -> dict[str, Any] | None:
            report = (
                await client.call_tool("wait_for_persona_job", {"job_id": job_id, "timeout_seconds": 0})
            ).structured_content
            return report if report and report["status"] in ("complete", "failed") else None

        report = await wait_for(finished, what="the stdio job to finish")
    assert report["status"] == "complete", report
    assert "plaintext password comparison" in report["result"]
    assert report["tokens_used"]["output"] == 80
    await wait_for(_gone(data_dir), timeout=60, what="embedded redis to stop after the client closed")


def _gone(data_dir: Path) -> Callable[[], Any]:
    async def probe() -> bool:
        return not redis_pids_for(data_dir)

    return probe


@contextmanager
def personas_process(
    args: list[str], project: Path, log: Path, *, stdin_open: bool = False, own_group: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """``personas ARGS`` on ``project`` with stderr in ``log``; killed on the way out if still running.
    ``stdin_open``: stdin is a pipe held open (a stdio server ends at EOF), else empty; ``own_group``:
    in a process group of its own, as a shell runs a command in a terminal."""
    with (
        log.open("wb") as stderr,
        subprocess.Popen(
            [PERSONAS_BIN, *args],
            stdin=subprocess.PIPE if stdin_open else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=_env(project),
            start_new_session=own_group,
        ) as proc,
    ):
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


async def assert_stopped_cleanly(code: int, log: Path, project: Path, last_words: str) -> None:
    """Exit 0, no traceback a user would read as a crash, ``last_words`` logged, and its Redis gone."""
    err = log.read_text(errors="replace")
    assert code == 0, err
    assert "Traceback" not in err and "CancelledError" not in err, err
    assert last_words in err
    data_dir = project / ".agent-os" / "data"
    await wait_for(_gone(data_dir), timeout=30, what="redis to stop with the process")
    assert not (data_dir / "redis.sock").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_no_process_left_behind_after_signal(project: Path, sig: signal.Signals) -> None:
    data_dir = project / ".agent-os" / "data"
    with subprocess.Popen(
        [PERSONAS_BIN, "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_env(project),
    ) as proc:
        await _signal_and_check(proc, data_dir, sig)


# Start-up creates these in this order (mcp_server/app.py: open_app); a SIGTERM right after any of
# them appears must end the server cleanly.
START_UP_POINTS = ["data", "jobs.sqlite3", "redis.log", "redis.sock", "redis.json", "index ready"]


@pytest.mark.parametrize("point", START_UP_POINTS)
async def test_sigterm_at_any_point_of_start_up_exits_cleanly(project: Path, tmp_path: Path, point: str) -> None:
    data_dir = project / ".agent-os" / "data"
    log = tmp_path / "serve.log"
    with (
        log.open("wb") as err,
        subprocess.Popen(
            [PERSONAS_BIN, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=_env(project)
        ) as proc,
    ):
        try:
            if point == "index ready":
                await wait_for(_index_ready(data_dir), timeout=60, what="the index to be ready")
            else:
                target = data_dir if point == "data" else data_dir / point
                # A tight poll (not wait_for's backoff) to hit the moment right after it appears.
                await asyncio.to_thread(_appears, target, proc)
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 60)  # a hang bound, generous for a loaded machine
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert code == 0, f"exit code {code} after SIGTERM at {point!r}; stderr:\n{log.read_text(errors='replace')}"
    await wait_for(_gone(data_dir), timeout=30, what="redis to stop after SIGTERM")
    assert not (data_dir / "redis.sock").exists()


def _appears(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60  # a hang bound: start-up reaches every point long before
    while not path.exists():
        assert proc.poll() is None, f"the server exited before creating {path}"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.001)


async def _signal_and_check(proc: subprocess.Popen[bytes], data_dir: Path, sig: signal.Signals) -> None:
    try:
        await wait_for(_present(data_dir), timeout=30, what="embedded redis to start")
        await wait_for(_index_ready(data_dir), timeout=60, what="the index to be ready")
        proc.send_signal(sig)
        code = await asyncio.to_thread(proc.wait, 60)  # a hang bound, generous for a loaded machine
        if sig is signal.SIGTERM:
            assert code == 0
        await wait_for(_gone(data_dir), timeout=30, what=f"redis to stop after {sig.name}")
        assert not (data_dir / "redis.sock").exists() or sig is signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _index_ready(data_dir: Path) -> Callable[[], Any]:
    async def probe() -> bool:
        try:
            return bool(json.loads((data_dir / "index" / "status.json").read_text()).get("state") == "ready")
        except (OSError, ValueError):
            return False

    return probe


def _present(data_dir: Path) -> Callable[[], Any]:
    async def probe() -> bool:
        return bool(redis_pids_for(data_dir))

    return probe


def test_tools_list_is_fast_and_stdout_is_only_protocol(project: Path) -> None:
    """Cold start to a tools/list answer, by hand over the raw pipe: every stdout line is JSON-RPC."""
    with subprocess.Popen(
        [PERSONAS_BIN, "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_env(project),
        text=True,
    ) as proc:
        _list_tools_over_raw_pipe(proc)


def _list_tools_over_raw_pipe(proc: subprocess.Popen[str]) -> None:
    import json

    assert proc.stdin is not None and proc.stdout is not None
    try:
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        proc.stdin.write(json.dumps(init) + "\n")
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}) + "\n")
        proc.stdin.flush()
        seen: dict[int, Any] = {}
        deadline = time.monotonic() + 30
        while 2 not in seen and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "server closed stdout"
            message = json.loads(line)  # anything but JSON-RPC on stdout would fail here
            assert message["jsonrpc"] == "2.0"
            if "id" in message:
                seen[message["id"]] = message
        tools = seen[2]["result"]["tools"]
        assert any(tool["name"] == "invoke_security" for tool in tools)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
