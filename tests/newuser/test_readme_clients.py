"""The README's client configurations are what a client runs: each snippet parses, names
scripts/serve, and the VS Code one (its variables filled in as VS Code does, the key prompt left empty)
starts a server that reviews the workspace folder in briefing mode, driven by the MCP SDK's client."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from tests.conftest import REPO_ROOT, wait_for
from tests.newuser.cli_run import PERSONAS_BIN, user_env


def _snippet(client: str) -> dict[str, Any]:
    """The first ```json block after the README's **client** heading."""
    readme = (REPO_ROOT / "README.md").read_text()
    after = readme[readme.index(f"**{client}**") :]
    match = re.search(r"```json\n(.*?)\n```", after, re.DOTALL)
    assert match is not None, client
    parsed: dict[str, Any] = json.loads(match.group(1))
    return parsed


def test_the_cursor_and_vs_code_snippets_start_scripts_serve() -> None:
    cursor = _snippet("Cursor")["mcpServers"]["agent-personas"]
    assert cursor["command"] == "/path/to/agent-personas/scripts/serve"
    vscode = _snippet("VS Code")
    server = vscode["servers"]["agent-personas"]
    assert server["type"] == "stdio" and server["command"] == "/path/to/agent-personas/scripts/serve"
    (key,) = (i for i in vscode["inputs"] if f"${{input:{i['id']}}}" == server["env"]["ANTHROPIC_API_KEY"])
    assert key["type"] == "promptString" and key["password"] is True
    assert (REPO_ROOT / "scripts" / "serve").is_file()


async def test_the_vs_code_snippet_reviews_the_workspace_folder_without_a_key(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    (workspace / ".agent-os" / "standards" / "api").mkdir(parents=True)
    (workspace / ".agent-os" / "standards" / "api" / "paging.md").write_text("# Paging\n\nOpaque okapi cursors.\n")
    (workspace / "app.py").write_text("def login(u, p):\n    return eval(p)\n")
    elsewhere = tmp_path / "vscode-started-here"  # the server's working directory is not the workspace
    elsewhere.mkdir()
    server = _snippet("VS Code")["servers"]["agent-personas"]
    filled = {
        k: v.replace("${workspaceFolder}", str(workspace)).replace("${input:anthropic-key}", "")
        for k, v in server["env"].items()
    }
    params = StdioServerParameters(command=PERSONAS_BIN, args=["serve"], env=user_env(**filled), cwd=elsewhere)
    async with Client(params) as client:
        found = (await client.call_tool("search_standards", {"query": "okapi cursors", "limit": 1})).structured_content
        assert found is not None and found["results"][0]["file"] == "api/paging.md"  # the workspace's standards
        started = await client.call_tool("invoke_security", {"task": "review the login", "context": "app.py"})
        assert not started.is_error, started.content
        job_id = (started.structured_content or {})["job_id"]

        async def finished() -> dict[str, Any] | None:
            report = (
                await client.call_tool("wait_for_persona_job", {"job_id": job_id, "timeout_seconds": 5})
            ).structured_content
            return report if report and report["status"] in ("complete", "failed") else None

        report = await wait_for(finished, timeout=60, what="the briefing job")
    assert report["status"] == "complete", report
    assert report["result"].startswith("# Briefing from Security Engineer")
    assert "- app.py" in report["result"]
    assert not (elsewhere / ".agent-os").exists()  # nothing written where the client started it
