"""Issue 15 done-when, through the MCP client: rule files scoped by path, a subagent as invoke_x."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server.app import standards_sources
from mcp_server.doctor_sources import source_checks
from mcp_server.server import build_server
from mcp_server.settings import Settings
from mcp_server.settings_load import SettingsError, load_settings
from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic

AGENTS_MD = """# Working here

## Reviews

Every change needs one approving review before merge.
"""
API_MDC = """---
description: API conventions
globs: api/**
alwaysApply: false
---
# API handlers

## Errors

Handlers return problem+json error bodies with a stable error code; never leak stack traces.
"""
SUBAGENT = """---
name: x
description: Reviews pull requests for error handling and logging mistakes.
tools: Read, Grep, Bash, WebFetch
model: sonnet
---
You are a meticulous reviewer. Read the changed files, look for swallowed exceptions, missing
logging, and error bodies that leak internals. Cite the team's standards for every finding.
"""


async def test_rule_files_scoped_by_path_and_subagent_as_tool(
    make_settings: Callable[..., Settings], redis_url: str, project: Path
) -> None:
    (project / "AGENTS.md").write_text(AGENTS_MD)
    (project / ".cursor" / "rules").mkdir(parents=True)
    (project / ".cursor" / "rules" / "api.mdc").write_text(API_MDC)
    (project / ".claude" / "agents").mkdir(parents=True)
    (project / ".claude" / "agents" / "x.md").write_text(SUBAGENT)
    query = "error bodies problem json stack traces"

    async with Client(build_server(make_settings(redis_url=redis_url), run_worker=False)) as client:

        async def scoped() -> dict[str, Any] | None:
            result = await client.call_tool("search_standards", {"query": query, "paths": ["api/users.py"]})
            assert not result.is_error, result.content
            body = result.structured_content
            ready = body and body["status"]["state"] == "ready" and body["results"]
            return body if ready and any(h["source"] == "rules" for h in body["results"]) else None

        api = await wait_for(scoped, timeout=60, what="scoped search results")
        other = await client.call_tool("search_standards", {"query": query, "paths": ["web/app.ts"], "limit": 20})
        unscoped = await client.call_tool("search_standards", {"query": query, "limit": 20})
        bad = await client.call_tool("search_standards", {"query": query, "paths": ["/etc/passwd"]})
        tools = {t.name for t in (await client.list_tools()).tools}
        listed = (await client.call_tool("list_personas", {})).structured_content
        rules = json.loads((await client.read_resource("personas://standards/rules")).contents[0].text)  # type: ignore[union-attr]

    first = api["results"][0]
    assert (first["file"], first["source"], first["paths"]) == (".cursor/rules/api.mdc", "rules", ["api/**"])
    assert other.structured_content is not None
    assert ".cursor/rules/api.mdc" not in [h["file"] for h in other.structured_content["results"]]
    assert unscoped.structured_content is not None
    assert ".cursor/rules/api.mdc" in [h["file"] for h in unscoped.structured_content["results"]]
    assert bad.is_error and "relative to the project root" in str(bad.content)

    assert "invoke_x" in tools
    assert listed is not None
    x = next(p for p in listed["personas"] if p["id"] == "x")
    assert x["origin"] == "claude" and x["tool"] == "invoke_x"
    assert any("Bash" in w for w in listed["warnings"]) and any("WebFetch" in w for w in listed["warnings"])
    summary = {s["source"]: s for s in listed["standards"]}
    assert summary["rules"]["files"] == 2 and summary["rules"]["scoped"] == [".cursor/rules/api.mdc: api/**"]
    assert {(r["file"], tuple(r["paths"])) for r in rules} == {
        ("AGENTS.md", ()),
        (".cursor/rules/api.mdc", ("api/**",)),
    }


async def test_rule_discovery_can_be_turned_off(
    make_settings: Callable[..., Settings], redis_url: str, project: Path
) -> None:
    (project / "AGENTS.md").write_text(AGENTS_MD)
    settings = make_settings(redis_url=redis_url, rules_discovery=False, claude_agents=False)
    async with Client(build_server(settings, run_worker=False)) as client:

        async def ready() -> dict[str, Any] | None:
            body = (
                await client.call_tool("search_standards", {"query": "approving review before merge"})
            ).structured_content
            return body if body and body["status"]["state"] == "ready" and body["results"] else None

        body = await wait_for(ready, timeout=60, what="search results")
    assert all(hit["source"] != "rules" for hit in body["results"])


def test_doctor_lists_what_discovery_found(
    make_settings: Callable[..., Settings], project: Path, tmp_path: Path
) -> None:
    (project / "AGENTS.md").write_text(AGENTS_MD)
    (project / ".cursor" / "rules").mkdir(parents=True)
    (project / ".cursor" / "rules" / "api.mdc").write_text(API_MDC)
    (project / ".claude" / "agents").mkdir(parents=True)
    (project / ".claude" / "agents" / "x.md").write_text(SUBAGENT)
    org = tmp_path / "org"
    (org / "security").mkdir(parents=True)
    (org / "security" / "secrets.md").write_text("# Secrets\n\nUse the vault.\n")
    lines = {c.name: c for c in source_checks(make_settings(shared_standards_dirs=[org]))}
    assert lines["rule files"].detail == "2 indexed as source 'rules': .cursor/rules/api.mdc, AGENTS.md"
    assert lines["claude subagents"].detail == "1 in .claude/agents; 1 loaded as personas: x"
    assert lines["shared standards 1"].detail == f"1 Markdown file(s) in {org}; read-only"
    off = {c.name: c for c in source_checks(make_settings(rules_discovery=False))}
    assert off["rule files"].detail == "discovery off (PERSONAS_RULES_DISCOVERY=false)"


def test_doctor_tells_skipped_subagents_and_a_standards_file_apart(
    make_settings: Callable[..., Settings], project: Path
) -> None:
    """A subagent that a persona of this server overrides is not reported as loaded; a standards
    "folder" that is a file is not reported as missing (nor as fine)."""
    from personas.claude_agents import export_subagent
    from personas.registry import PersonaRegistry

    agents = project / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "x.md").write_text(SUBAGENT)
    (agents / "security.md").write_text(export_subagent(PersonaRegistry.load().get("security")))
    (project / "standards.md").write_text("# not a folder\n")
    lines = {c.name: c for c in source_checks(make_settings(standards_dir=project / "standards.md"))}
    assert lines["claude subagents"].detail == (
        "2 in .claude/agents; 1 loaded as personas: x; 1 named like a persona of this server, which wins: security"
    )
    standards = lines["project standards"]
    assert (standards.ok, standards.warning) == (False, True)
    assert standards.detail.endswith("standards.md is a file, not a folder")
    assert "PERSONAS_STANDARDS_DIR" in standards.fix


def test_source_settings_from_the_environment(
    make_settings: Callable[..., Settings], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONAS_SHARED_STANDARDS_DIRS", f"org-a{os.pathsep}/srv/org-b{os.pathsep}")
    monkeypatch.setenv("PERSONAS_RULES_DOMAINS", '{".cursor/rules/sec*.mdc": "security"}')
    monkeypatch.setenv("PERSONAS_RULES_DISCOVERY", "false")
    settings = make_settings()
    assert settings.shared_standards_dirs == [project.resolve() / "org-a", Path("/srv/org-b")]
    assert settings.shared_approval_dir == project.resolve() / "org-a"
    assert settings.rules_domains == {".cursor/rules/sec*.mdc": "security"}
    assert [s.kind for s in standards_sources(settings)] == ["project", "shared", "shared", "universal"]
    monkeypatch.setenv("PERSONAS_RULES_DOMAINS", '{"x/*": "Not A Slug"}')
    with pytest.raises(SettingsError, match=r"PERSONAS_RULES_DOMAINS.*lowercase slug"):
        load_settings()


async def test_subagent_runs_and_its_search_is_scoped_to_the_named_files(
    make_settings: Callable[..., Settings], redis_url: str, project: Path, fake_api: FakeAnthropic
) -> None:
    (project / "AGENTS.md").write_text(AGENTS_MD)
    (project / ".cursor" / "rules").mkdir(parents=True)
    (project / ".cursor" / "rules" / "api.mdc").write_text(API_MDC)
    (project / "api").mkdir()
    (project / "api" / "users.py").write_text("def get(req):\n    return str(Exception('boom'))\n")
    (project / ".claude" / "agents").mkdir(parents=True)
    (project / ".claude" / "agents" / "x.md").write_text(SUBAGENT)
    seen: list[dict[str, Any]] = []

    def submit(request: dict[str, Any]) -> fake.Reply:
        seen.append(request)
        return fake.tool_use("submit_review", {"summary": "Checked.", "findings": []})

    fake_api.add(fake.tool_use("search_standards", {"query": "error bodies stack traces"}), submit)
    settings = make_settings(redis_url=redis_url, anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url)
    async with Client(build_server(settings)) as client:

        async def index_ready() -> bool:
            body = (await client.call_tool("search_standards", {"query": "error"})).structured_content
            return bool(body and body["status"]["state"] == "ready" and body["status"]["files_indexed"])

        await wait_for(index_ready, timeout=60, what="the standards index")
        started = await client.call_tool("invoke_x", {"task": "review the handler", "context": "api/users.py"})
        assert not started.is_error, started.content
        job_id = (started.structured_content or {})["job_id"]

        async def done() -> dict[str, Any] | None:
            report = (await client.call_tool("check_persona_job", {"job_id": job_id})).structured_content
            return report if report and report["status"] in ("complete", "failed") else None

        report = await wait_for(done, timeout=60, what="the subagent's review")

    assert report["status"] == "complete", report
    first = fake_api.requests[0]
    assert "You are a meticulous reviewer." in str(first["system"])
    assert {t["name"] for t in first["tools"]} == {
        "search_standards",
        "list_files",
        "read_file",
        "propose_standard",
        "submit_review",
    }
    results = [
        str(block["content"])
        for message in seen[0]["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert "[1] ref: .cursor/rules/api.mdc#Errors" in results[0] and "governs api/**" in results[0]


def test_a_shared_folder_that_is_not_one_is_warned_about(
    make_settings: Callable[..., Settings], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from mcp_server.app import standards_sources

    typo = tmp_path / "org-standardz"
    standards_sources(make_settings(shared_standards_dirs=[typo]))
    assert f"PERSONAS_SHARED_STANDARDS_DIRS: {typo} is not a folder" in caplog.text
