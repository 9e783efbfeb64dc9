"""Bad files where the server reads them: binary, huge, non-UTF-8 and FIFO files and malformed front
matter dropped into the project standards folder while the server runs, and malformed persona
files in .agent-os/personas. The server keeps serving; the bad files are skipped with a warning
(or listed as errors) naming them; good content is unaffected."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import wait_for
from tests.hostile.helpers import unreadable

GOOD = "# Kiwi tokens\n\n## Rule\n\nKiwi tokens rotate every hour.\n"
BAD_STANDARDS: dict[str, bytes] = {
    "binary.md": b"# Bin\n\x00\x01\x02" + bytes(range(256)) * 8,
    "huge.md": b"# Huge\n\n" + b"mango " * 200_000,  # 1.2 MB, over the 1 MB cap
    "latin1.md": "# Caf\xe9\n\nPapaya rule.\n".encode("latin-1"),
}
#: Malformed front matter: indexed anyway (front matter ignored), with a warning.
ODD_FRONT_MATTER = {
    "broken-yaml.md": "---\ntags: [oops\n---\n# Broken yaml\n\nThe guava rule applies.\n",
    "list-front.md": "---\n- just\n- a list\n---\n# Listy\n\nThe lychee rule applies.\n",
    "unclosed.md": "---\ntitle: never closed\n# Unclosed\n\nThe quince rule applies.\n",
}


async def _found(client: Client, query: str, file: str) -> bool:
    result = await client.call_tool("search_standards", {"query": query, "limit": 10})
    assert not result.is_error, result.content
    body = result.structured_content or {}
    return any(hit["file"] == file for hit in body["results"])


async def test_bad_standards_files_dropped_in_while_serving(
    make_settings: Callable[..., Settings], redis_url: str, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    standards = project / ".agent-os" / "standards"
    dropped = standards / "dropped"
    dropped.mkdir(parents=True)
    async with Client(build_server(make_settings(redis_url=redis_url), run_worker=False)) as client:
        await wait_for(lambda: _found(client, "incident response", "operations/incident-response.md"), timeout=60)
        with caplog.at_level(logging.WARNING, logger="standards"):
            for name, data in BAD_STANDARDS.items():
                (dropped / name).write_bytes(data)
            os.mkfifo(dropped / "fifo.md")  # reading it naively would block forever
            for name, text in ODD_FRONT_MATTER.items():
                (dropped / name).write_text(text)
            (dropped / "kiwi.md").write_text(GOOD)
            await wait_for(lambda: _found(client, "kiwi tokens rotate", "dropped/kiwi.md"), timeout=60)
            for name, word in zip(ODD_FRONT_MATTER, ("guava", "lychee", "quince"), strict=True):
                await wait_for(lambda n=name, w=word: _found(client, f"the {w} rule", f"dropped/{n}"), timeout=60)  # type: ignore[misc]
            still = await _found(client, "incident response", "operations/incident-response.md")
            listing = json.loads((await client.read_resource("personas://standards/project")).contents[0].text)  # type: ignore[union-attr]
            huge = await unreadable(client, "personas://standards/project/dropped/huge")
            fifo = await asyncio.wait_for(unreadable(client, "personas://standards/project/dropped/fifo"), 60)
            tools = (await client.list_tools()).tools

    assert still and tools  # the server kept serving
    listed = {f["file"] for f in listing}
    assert {"dropped/kiwi.md", *(f"dropped/{n}" for n in ODD_FRONT_MATTER)} <= listed
    assert not {f"dropped/{n}" for n in [*BAD_STANDARDS, "fifo.md"]} & listed
    assert "larger than" in huge
    assert "not a regular file" in fifo
    warnings = [r.getMessage() for r in caplog.records]
    for name, reason in [
        ("binary.md", "binary content"),
        ("huge.md", "larger than"),
        ("latin1.md", "invalid UTF-8"),
        ("fifo.md", "not a regular file"),
        ("broken-yaml.md", "front matter"),
    ]:
        assert any(f"dropped/{name}" in w and reason in w for w in warnings), (name, warnings)


CUSTOM_OK = """---
id: reviewer
name: Docs Reviewer
description: Reviews documentation for accuracy, structure and tone, with concrete fixes.
domains: [development]
---
You are the Docs Reviewer. Check documentation against the code it describes; search the standards
first and cite them as file#heading. Report concrete fixes, most important first.
"""
BAD_PERSONAS: dict[str, bytes] = {
    "bad-yaml.md": b"---\nname: [unclosed\n---\nYou review things.\n",
    "no-close.md": b"---\nid: no-close\nname: Never closed\nYou review things.\n",
    "listy.md": b"---\n- a\n- b\n---\nYou review things.\n",
    "binary.md": b"\xff\xfe\x00\x01 not text",
    "wrong-tools.md": CUSTOM_OK.replace("id: reviewer", "id: wrong-tools")
    .replace("domains: [development]", "domains: [development]\ntools: [rm_rf, submit_review]")
    .encode(),
    # A broken override of a core persona must not take the core one away.
    "security.md": b"---\nid: security\npersonality: {creativity: 7}\n---\nYou are broken.\n",
}


async def test_malformed_persona_files_do_not_stop_the_server(
    make_settings: Callable[..., Settings], redis_url: str, project: Path
) -> None:
    folder = project / ".agent-os" / "personas"
    folder.mkdir(parents=True)
    for name, data in BAD_PERSONAS.items():
        (folder / name).write_bytes(data)
    (folder / "reviewer.md").write_text(CUSTOM_OK)
    async with Client(build_server(make_settings(redis_url=redis_url), run_worker=False)) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        listed: dict[str, Any] = (await client.call_tool("list_personas", {})).structured_content or {}
        started = await client.call_tool("invoke_security", {"task": "review app.py"})

    personas = {p["id"]: p for p in listed["personas"]}
    assert {"architect", "engineer", "data", "qa", "security", "sre", "reviewer"} <= set(personas)
    assert personas["security"]["origin"] == "core"  # the broken override was skipped
    assert {"invoke_security", "invoke_reviewer"} <= tools
    assert not {"invoke_bad-yaml", "invoke_wrong-tools", "invoke_listy"} & tools
    assert not started.is_error, started.content
    errors = listed["errors"]
    assert len(errors) == len(BAD_PERSONAS), errors
    for name, says in [
        ("bad-yaml.md", "invalid YAML front matter"),
        ("no-close.md", "no closing '---'"),
        ("listy.md", "mapping"),
        ("binary.md", "cannot read persona file"),
        ("wrong-tools.md", "field 'tools"),
        ("security.md", "field 'personality.creativity'"),
    ]:
        assert any(name in error and says in error for error in errors), (name, errors)
