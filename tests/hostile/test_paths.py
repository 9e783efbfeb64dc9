"""Path traversal, absolute paths and symlink escapes wherever a path reaches the server: the
standards resources, the persona run's file tools (as the model's tool calls, end to end) and the
file paths an assistant names in invoke context."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.hostile.helpers import unreadable
from tests.personas.helpers import call, calls
from tests.reliability.helpers import call as call_tool
from tests.reliability.helpers import finished, invoke

SECRET = "TOPSECRETOUTSIDEWORD"
OK = "# Okapi tokens\n\n## Rule\n\nOkapi tokens expire after fifteen minutes.\n"


def _outside(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(f"# Leak\n\n{SECRET} lives here.\n")
    (outside / "secret.txt").write_text(f"{SECRET}\n")
    return outside


async def test_standard_resources_refuse_traversal_and_symlink_escapes(
    make_settings: Callable[..., Settings], redis_url: str, project: Path, tmp_path: Path
) -> None:
    outside = _outside(tmp_path)
    standards = project / ".agent-os" / "standards"
    (standards / "security").mkdir(parents=True)
    (standards / "security" / "okapi.md").write_text(OK)
    (standards / "evil").symlink_to(outside, target_is_directory=True)  # a domain folder leading out
    (standards / "security" / "link.md").symlink_to(outside / "secret.md")  # a standard leading out
    absolute = quote(str(outside / "secret"), safe="")
    hostile = {
        "personas://standards/project/../outside/secret": "Unknown resource",
        "personas://standards/project/%2e%2e/secret": "Unknown resource",
        "personas://standards/project/%2E%2E%2F%2E%2E%2Foutside/secret": "Unknown resource",
        "personas://standards/project/security/..%2F..%2F..%2F..%2Foutside%2Fsecret": "Unknown resource",
        "personas://standards/project/security/..%5C..%5C..%5Coutside%5Csecret": "Unknown resource",
        "personas://standards/universal/../../../../etc/passwd": "Unknown resource",
        "personas://standards/%2e%2e/security/okapi": "Unknown resource",
        f"personas://standards/project/security/{absolute}": "Unknown resource",
        "personas://standards/project/%2Fetc/passwd": "Unknown resource",
        "personas://standards/project/evil/secret": "leads outside the standards folders",
        "personas://standards/project/security/link": "leads outside the standards folders",
    }
    async with Client(build_server(make_settings(redis_url=redis_url), run_worker=False)) as client:

        async def indexed() -> bool:
            body = (await client.call_tool("search_standards", {"query": "okapi tokens expire"})).structured_content
            return bool(body and body["status"]["state"] == "ready" and body["results"])

        await wait_for(indexed, timeout=60, what="the standards index")
        legit = await client.read_resource("personas://standards/project/security/okapi")
        errors = {uri: await unreadable(client, uri) for uri in hostile}
        listing = json.loads((await client.read_resource("personas://standards/all")).contents[0].text)  # type: ignore[union-attr]
        search = await call_tool(client, "search_standards", query=f"{SECRET} leak", limit=20)

    assert "Okapi tokens expire" in legit.contents[0].text  # type: ignore[union-attr]
    for uri, expected in hostile.items():
        assert expected in errors[uri], (uri, errors[uri])
        assert SECRET not in errors[uri]
    files = {f"{f['source']}:{f['file']}" for f in listing}
    assert "project:security/okapi.md" in files
    assert not {f for f in files if f.startswith("project:evil/") or f.endswith("link.md")}
    assert all(SECRET not in hit["text"] for hit in search["results"])


def _tool_results(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    content = request["messages"][-1]["content"]
    return {b["tool_use_id"]: b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"}


async def test_run_file_tools_refuse_escapes_from_the_model_end_to_end(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic, project: Path, tmp_path: Path
) -> None:
    outside = _outside(tmp_path)
    (project / "link_out.txt").symlink_to(outside / "secret.txt")
    (project / "dir_out").symlink_to(outside, target_is_directory=True)
    (project / ".env").write_text(f"API_KEY={SECRET}\n")
    reads = {
        "../outside/secret.txt": "'..' is refused",
        str(outside / "secret.txt"): "Absolute paths are refused",
        "~/../../etc/passwd": "Absolute paths are refused",
        "C:\\Windows\\win.ini": "Absolute paths are refused",
        "link_out.txt": "symlink leading outside the project root",
        "dir_out/secret.txt": "symlink leading outside the project root",
        ".agent-os/data/jobs.sqlite3": "internal tool data",
        ".agent-os/data/../../../outside/secret.txt": "'..' is refused",
        "%2e%2e/outside/secret.txt": "No such file",
        "app.py\x00../outside/secret.txt": "NUL byte",
        ".env": "holds secrets",
    }
    read_calls = [call("read_file", {"path": path}) for path in reads]
    globs = {"../**": "'..' is refused", "/**": "Absolute patterns are refused", "~/*": "Absolute patterns"}
    glob_calls = [call("list_files", {"pattern": pattern}) for pattern in globs]
    listing = call("list_files", {"pattern": "**/*"})
    seen: dict[str, dict[str, Any]] = {}

    def submit(request: dict[str, Any]) -> fake.Reply:
        seen.update(_tool_results(request))
        return fake.tool_use("submit_review", {"summary": "Verdict: read what the sandbox allowed.", "findings": []})

    fake_api.add(calls(*read_calls, *glob_calls, listing), submit)
    context = f"../outside/secret.txt\n{outside / 'secret.txt'}\nlink_out.txt\napp.py"
    settings = make_settings(redis_url=redis_url, anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url)
    async with Client(build_server(settings)) as client:
        report = await finished(client, await invoke(client, "review the project files", context=context))

    assert report["status"] == "complete", report
    for block, expected in zip(read_calls, reads.values(), strict=True):
        result = seen[block["id"]]
        assert result.get("is_error") is True and expected in result["content"], (block["input"], result)
    for block, expected in zip(glob_calls, globs.values(), strict=True):
        result = seen[block["id"]]
        assert result.get("is_error") is True and expected in result["content"], (block["input"], result)
    listed = seen[listing["id"]]["content"].splitlines()[1:]
    assert "app.py" in listed
    assert not [p for p in listed if p.startswith(("link_out", "dir_out", ".agent-os/data"))], listed
    first = fake_api.requests[0]["messages"][0]["content"]
    assert "def login" in first  # app.py, named in context, was inlined
    assert first.count("(not inlined:") == 3  # the three escaping context lines were not
    assert SECRET not in json.dumps(fake_api.requests)  # nothing from outside reached the model
