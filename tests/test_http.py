"""Streamable HTTP: loopback by default, bearer token enforced when set, refused bind without one."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import wait_for
from tests.redis_process import free_port
from tests.test_serve_stdio import PERSONAS_BIN, _env, assert_stopped_cleanly, personas_process

TOKEN = "test-token-4f0c1b8e9d-0123456789abcdef"


@contextmanager
def serve_http(
    project: Path, *args: str, host: str = "127.0.0.1", cwd: Path | None = None, log: Path | None = None, **env: str
) -> Iterator[str]:
    """``personas serve --http`` in a subprocess on a free port; yields its base URL, stops it on exit.
    With ``cwd`` it runs there without PERSONAS_PROJECT_ROOT (its project is its working directory);
    with ``log`` its stderr goes to that file."""
    port = free_port()
    environment = _env(project, **env)
    if cwd is not None:
        del environment["PERSONAS_PROJECT_ROOT"]
    with (
        open(log if log is not None else os.devnull, "wb") as stderr,
        subprocess.Popen(
            [PERSONAS_BIN, "serve", "--http", "--host", host, "--port", str(port), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=environment,
            cwd=cwd,
        ) as proc,
    ):
        try:
            yield f"http://{host}:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=15)


@pytest.fixture
def http_server(project: Path, redis_url: str) -> Iterator[str]:
    with serve_http(project, PERSONAS_HTTP_TOKEN=TOKEN, REDIS_URL=redis_url) as base:
        yield f"{base}/mcp"


def _status(url: str, token: str | None, host: str | None = None) -> int:
    request = urllib.request.Request(url, data=b"{}", method="POST", headers={"content-type": "application/json"})
    if token is not None:
        request.add_header("authorization", f"Bearer {token}")
    if host is not None:
        request.add_header("host", host)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError):
        return 0


async def test_token_is_required_and_checked(http_server: str) -> None:
    async def up() -> bool:
        return _status(http_server, None) != 0

    await wait_for(up, timeout=30, what="HTTP server to listen")
    assert _status(http_server, None) == 401
    assert _status(http_server, "wrong-token") == 401

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        Client(streamable_http_client(http_server, http_client=http)) as client,
    ):
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert "invoke_security" in names


def test_non_loopback_bind_without_token_is_refused(project: Path) -> None:
    result = subprocess.run(
        [PERSONAS_BIN, "serve", "--http", "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=30,
        env=_env(project),
        check=False,
    )
    assert result.returncode == 2
    assert "PERSONAS_HTTP_TOKEN" in result.stderr


def _refused(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PERSONAS_BIN, "serve", "--http", "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=_env(project, **env),
        check=False,
    )


def test_a_short_token_is_refused_with_how_to_make_one(project: Path) -> None:
    result = _refused(project, "--host", "0.0.0.0", PERSONAS_HTTP_TOKEN="x")
    assert result.returncode == 2
    assert "at least 32" in result.stderr and "openssl rand -hex 32" in result.stderr
    assert "Traceback" not in result.stderr


def test_any_host_but_127_0_0_1_or_localhost_needs_the_token(project: Path) -> None:
    result = _refused(project, "--host", "127.0.0.2")
    assert result.returncode == 2 and "PERSONAS_HTTP_TOKEN" in result.stderr


async def test_dns_rebinding_protection_covers_the_bound_host(project: Path, redis_url: str) -> None:
    with serve_http(project, host="127.0.0.2", PERSONAS_HTTP_TOKEN=TOKEN, REDIS_URL=redis_url) as base:
        url = f"{base}/mcp"
        port = base.rsplit(":", 1)[1]

        async def up() -> bool:
            return _status(url, None) != 0

        await wait_for(up, timeout=30, what="HTTP server on 127.0.0.2 to listen")
        assert _status(url, None) == 401
        assert _status(url, TOKEN, host=f"rebound.example:{port}") == 421  # a rebound DNS name
        assert _status(url, TOKEN, host=f"127.0.0.2:{port}") not in (0, 401, 421)


async def test_a_server_for_remote_clients_takes_bodies_past_the_sdks_4_mib(project: Path, redis_url: str) -> None:
    """Client files (5 MB) and diff (2 MB) must reach the tool's own checks; past 24 MiB the body is refused."""
    with serve_http(project, "--remote-clients", REDIS_URL=redis_url) as base:
        url = f"{base}/mcp"

        async def up() -> bool:
            return _status(url, None) != 0

        await wait_for(up, timeout=30, what="HTTP server to listen")
        headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        async with httpx2.AsyncClient(timeout=30) as http:
            six_mb = await http.post(url, content=b" " * 6_000_000 + b"{}", headers=headers)
            too_big = await http.post(url, content=b" " * (25 * 1024 * 1024), headers=headers)
    assert six_mb.status_code != 413
    assert too_big.status_code == 413


async def test_sigterm_stops_the_http_server_cleanly(project: Path, tmp_path: Path) -> None:
    """SIGTERM with a client connected: exit 0, the resources closed by uvicorn's lifespan shutdown,
    no CancelledError traceback on stderr (users read one as a crash)."""
    port = free_port()
    log = tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}/mcp"
    with personas_process(["serve", "--http", "--port", str(port)], project, log) as proc:

        async def up() -> bool:
            return _status(url, None) != 0

        await wait_for(up, timeout=60, what="HTTP server to listen")
        async with Client(streamable_http_client(url)) as client:
            assert "invoke_security" in {tool.name for tool in (await client.list_tools()).tools}
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 60)  # a hang bound, generous for a loaded machine
    await assert_stopped_cleanly(code, log, project, "HTTP server stopped")


@pytest.mark.parametrize("command", [["serve", "--http"], ["desk"]])
def test_a_taken_port_is_named_with_what_to_do_not_a_traceback(
    project: Path, redis_url: str, command: list[str]
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [PERSONAS_BIN, *command, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(project, REDIS_URL=redis_url),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr and "serving MCP" not in result.stderr


@pytest.mark.parametrize("command", [["serve", "--http"], ["desk"]])
@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_port_out_of_range_is_a_usage_error(project: Path, command: list[str], port: str) -> None:
    result = subprocess.run(
        [PERSONAS_BIN, *command, "--port", port],
        capture_output=True,
        text=True,
        timeout=30,
        env=_env(project),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "is not a port number (0-65535)" in result.stderr and "Traceback" not in result.stderr


def _status_as(uid: int, url: str, *data: str) -> int:
    """The HTTP status another local user (``uid``) gets from ``url`` (curl run as that user)."""
    post = ["-H", "content-type: application/json", "-H", "accept: application/json, text/event-stream", "-d", *data]
    done = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", *(post if data else []), url],
        capture_output=True,
        text=True,
        user=uid,
        check=False,
    )
    return int(done.stdout or 0)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("curl") is None, reason="needs root to act as another user")
async def test_another_local_user_cannot_use_a_loopback_server_without_a_token(project: Path, redis_url: str) -> None:
    """Loopback is every local user's: a server without a token answers only its own user (and root), so
    another account on a shared machine cannot read job history through the desk or call the tools."""
    with serve_http(project, REDIS_URL=redis_url) as base:

        async def ready() -> bool:
            return _status_as(0, f"{base}/desk/proposals") == 200  # root (this user here) is served

        await wait_for(ready, timeout=60, what="the desk to be ready")
        initialize = (
            '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
            '"capabilities":{},"clientInfo":{"name":"x","version":"1"}}}'
        )
        assert _status_as(65534, f"{base}/desk/proposals") == 403
        assert _status_as(65534, f"{base}/mcp", initialize) == 403
        assert _status_as(0, f"{base}/mcp", initialize) == 200


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("curl") is None, reason="needs root to act as another user")
async def test_another_local_user_cannot_borrow_a_live_connection_with_x_forwarded_for(
    project: Path, redis_url: str
) -> None:
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default and takes 'host:port' from it as the
    client: another local user named the port of the owner's open connection (listed in the world-readable
    /proc/net/tcp), and the same-user check asked the kernel about that socket instead of theirs."""
    import socket
    from urllib.parse import urlsplit

    with serve_http(project, REDIS_URL=redis_url) as base:

        async def ready() -> bool:
            return _status_as(0, f"{base}/desk/proposals") == 200

        await wait_for(ready, timeout=60, what="the desk to be ready")
        where = urlsplit(base)
        with socket.create_connection((str(where.hostname), int(where.port or 80))) as owners:  # e.g. an SSE stream
            borrowed = f"127.0.0.1:{owners.getsockname()[1]}"
            done = subprocess.run(
                [
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "20",
                    "-H",
                    f"X-Forwarded-For: {borrowed}",
                    f"{base}/desk/proposals",
                ],
                capture_output=True,
                text=True,
                user=65534,
                check=False,
            )
            assert int(done.stdout or 0) == 403, done
            assert _status_as(0, f"{base}/desk/proposals") == 200  # the owner still is served


async def test_a_file_name_cannot_forge_log_lines_or_send_terminal_escapes_to_the_servers_stderr(
    project: Path, redis_url: str, tmp_path: Path
) -> None:
    """``serve`` logs to stderr unescaped (a terminal, or the client's log file): a rule file from a pull
    request named with a newline and an escape sequence must not start a line or reach the terminal."""
    rules = project / ".cursor" / "rules"
    rules.mkdir(parents=True)
    (rules / "evil\x1b[2J\n2026-01-01 00:00:00 INFO forged: all reviews passed.mdc").write_bytes(b"\x00binary")
    log = tmp_path / "serve.log"
    with serve_http(project, log=log, REDIS_URL=redis_url):

        async def logged() -> bool:
            return "skipped" in log.read_text(errors="replace")

        await wait_for(logged, timeout=60, what="the rule file's warning")
    text = log.read_text(errors="replace")
    assert "\x1b" not in text
    assert not [line for line in text.splitlines() if line.startswith("2026-01-01")], text


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="the kernel's socket table is Linux's")
async def test_a_connection_the_kernel_no_longer_knows_is_refused_not_served() -> None:
    """A client can send its request and reset the connection before the check: an unknown connection
    is refused, so a local user cannot slip a POST (a desk approval, a tool call) past it."""
    from mcp_server.same_user import SameUserOnly

    served: list[str] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        served.append(str(scope["path"]))

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    import socket

    with socket.socket() as listening:  # the server is there; the client's connection is gone
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        scope = {
            "type": "http",
            "path": "/desk/proposals/x/approve",
            "client": ("127.0.0.1", 1),
            "server": listening.getsockname(),
        }
        await SameUserOnly(app)(scope, receive, send)  # type: ignore[arg-type]
    assert served == [] and sent[0]["status"] == 403
