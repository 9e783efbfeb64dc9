"""Tool profiles (PERSONAS_TOOLS), the single invoke_persona tool, annotations and the tools/list budget.

Snapshots of every profile's tools/list live in tests/snapshots/tools_list/ (regenerate with
UPDATE_SNAPSHOTS=1): a change to any tool's name, description, schema or annotations is a diff.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp import Client

from mcp_server.cli import main as cli_main
from mcp_server.server import build_server
from mcp_server.settings import Settings
from mcp_server.tools.profiles import ToolSelectionError, select_tools
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic

SNAPSHOTS = Path(__file__).parent / "snapshots" / "tools_list"
README = Path(__file__).parents[1] / "README.md"
CORE_INVOKES = {f"invoke_{p}" for p in ("architect", "data", "engineer", "qa", "security", "sre")}
PROPOSALS = {
    "list_standard_proposals",
    "get_standard_proposal",
    "approve_standard_proposal",
    "reject_standard_proposal",
    "request_standard_changes",
}
OPS = {"check_persona_job", "list_persona_jobs", "persona_database_stats", "cancel_persona_job", "reset_persona_jobs"}
DEVELOPER = CORE_INVOKES | {"wait_for_persona_job", "search_standards", "list_personas", "dismiss_finding"}


async def _tools(settings: Settings) -> list[dict[str, Any]]:
    async with Client(build_server(settings, run_worker=False, watch=False)) as client:
        result = await client.list_tools()
    return [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in result.tools]


def _wire_bytes(tools: list[dict[str, Any]]) -> int:
    return len(json.dumps({"tools": tools}, separators=(",", ":"), ensure_ascii=False).encode())


@pytest.mark.parametrize(
    ("profile", "persona_tools"),
    [("developer", "each"), ("reviewer", "each"), ("ops", "each"), ("all", "each"), ("developer", "single")],
)
async def test_tools_list_matches_the_snapshot(
    make_settings: Callable[..., Settings], redis_url: str, profile: str, persona_tools: str
) -> None:
    tools = await _tools(make_settings(redis_url=redis_url, tools=profile, persona_tools=persona_tools))
    current = json.dumps(tools, indent=2, ensure_ascii=False) + "\n"
    snapshot = SNAPSHOTS / f"{profile}-{persona_tools}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") or not snapshot.exists():
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(current)
    assert current == snapshot.read_text()


async def test_profiles_offer_their_tools_and_the_default_fits_the_budget(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    default = make_settings(redis_url=redis_url)
    default_profile = Settings.model_fields["tools"].default
    names: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    for profile in ("developer", "reviewer", "ops", "all"):
        tools = await _tools(default.model_copy(update={"tools": profile}))
        names[profile] = {t["name"] for t in tools}
        sizes[profile] = _wire_bytes(tools)
    assert default_profile == "developer"
    assert names["developer"] == DEVELOPER
    assert names["reviewer"] == DEVELOPER | PROPOSALS | {"invoke_panel"}
    assert names["ops"] == DEVELOPER | OPS
    assert names["all"] >= DEVELOPER | PROPOSALS | OPS | {"invoke_panel"}
    # Issue 14's budget: the default profile with the six core personas (README "Choosing tools").
    assert sizes["developer"] <= 15_000, f"the default tools/list is {sizes['developer']} bytes"
    assert sizes["developer"] < sizes["reviewer"] < sizes["all"]
    for profile in ("developer", "all"):
        single = await _tools(default.model_copy(update={"tools": profile, "persona_tools": "single"}))
        sizes[f"{profile} single"] = _wire_bytes(single)
    measured = {
        "developer": [sizes["developer"], sizes["developer single"]],
        "reviewer": [sizes["reviewer"]],
        "ops": [sizes["ops"]],
        "all": [sizes["all"], sizes["all single"]],
    }
    assert _readme_sizes() == measured, f"update README 'Choosing tools' with {measured}"


def _readme_sizes() -> dict[str, list[int]]:
    """The byte sizes the README's profile table states (each, then single), by profile."""
    text = README.read_text()
    table = text[text.index("### Choosing tools") :].split("\n\n")[2]
    sizes: dict[str, list[int]] = {}
    for row in table.splitlines()[2:]:
        name = re.match(r"\| `(\w+)`", row)
        if name is not None:
            sizes[name.group(1)] = [int(n.replace(",", "")) for n in re.findall(r"(\d[\d,]*) B\b", row)]
    return sizes


async def test_every_tool_has_all_four_hints_and_a_title(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    tools = await _tools(make_settings(redis_url=redis_url, tools="all"))
    for tool in tools:
        hints = tool.get("annotations", {})
        assert {"title", "readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} <= set(hints), tool
    by_name = {t["name"]: t["annotations"] for t in tools}
    assert by_name["search_standards"]["readOnlyHint"] is True
    for destructive in ("approve_standard_proposal", "reject_standard_proposal", "reset_persona_jobs"):
        assert by_name[destructive]["destructiveHint"] is True
        assert by_name[destructive]["readOnlyHint"] is False
    assert by_name["invoke_security"]["openWorldHint"] is True  # the run calls the Claude API


async def test_output_schemas_are_trimmed_but_typed(make_settings: Callable[..., Settings], redis_url: str) -> None:
    tools = {t["name"]: t for t in await _tools(make_settings(redis_url=redis_url, tools="all"))}
    wait = tools["wait_for_persona_job"]["outputSchema"]
    text = json.dumps(wait)
    assert '"description"' not in text
    assert '"title": "' not in text  # no schema titles; a property called 'title' stays
    assert "$defs" not in wait  # each model is used once: written in place
    finding = wait["properties"]["findings"]["items"]["properties"]
    assert {"severity", "title", "detail", "recommendation", "standard_refs"} <= set(finding)
    assert {"id", "in_change", "file", "line"} <= set(finding)  # set by the server after the run, still typed
    assert "x-server-set" not in text
    assert finding["severity"]["enum"] == ["critical", "high", "medium", "low", "info"]
    invoke_input = tools["invoke_security"]["inputSchema"]["properties"]
    assert invoke_input["task"]["description"]  # input descriptions are what the model reads
    assert invoke_input["context"]["type"] == "string"  # optional: left out, not sent as null
    assert invoke_input["min_severity"]["enum"] == ["critical", "high", "medium", "low", "info"]
    assert invoke_input["priority"]["default"] == "normal"  # a default that says something stays
    assert tools["wait_for_persona_job"]["inputSchema"]["properties"]["timeout_seconds"]["maximum"] == 50


FINDING = {
    "severity": "high",
    "title": "eval of user data",
    "detail": "Evidence.",
    "location": "app.py:2",
    "standard_refs": [],
    "recommendation": "Fix.",
}


def _every_listed_key(schema: dict[str, Any], value: Any, where: str) -> None:
    """The trimmed output schemas drop ``required`` because every key they list is always sent: check it."""
    properties = schema.get("properties")
    if isinstance(value, dict) and isinstance(properties, dict):
        missing = set(properties) - set(value)
        assert not missing, f"{where} lacks {sorted(missing)}"
        for name, sub in properties.items():
            _every_listed_key(sub, value[name], f"{where}.{name}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _every_listed_key(schema["items"], item, f"{where}[{i}]")


async def test_results_of_the_default_profile_fit_their_trimmed_output_schemas(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    fake_api.default = lambda _req: fake.tool_use("submit_review", {"summary": "Reviewed.", "findings": [FINDING]})
    settings = make_settings(
        redis_url=redis_url, tools="developer", anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url
    )
    results: dict[str, Any] = {}
    async with Client(build_server(settings, watch=False)) as client:
        schemas = {t.name: t.output_schema for t in (await client.list_tools()).tools}
        started = await client.call_tool("invoke_security", {"task": "review app.py", "context": "app.py"})
        job_id = (started.structured_content or {})["job_id"]
        results["invoke_security"] = started
        while (results.get("wait_for_persona_job") is None) or (
            (results["wait_for_persona_job"].structured_content or {})["status"] not in ("complete", "failed")
        ):
            results["wait_for_persona_job"] = await client.call_tool(
                "wait_for_persona_job", {"job_id": job_id, "timeout_seconds": 30}
            )
        (finding,) = (results["wait_for_persona_job"].structured_content or {})["findings"]
        results["search_standards"] = await client.call_tool("search_standards", {"query": "secrets", "limit": 2})
        results["list_personas"] = await client.call_tool("list_personas", {})
        results["dismiss_finding"] = await client.call_tool(
            "dismiss_finding", {"job_id": job_id, "finding_id": finding["id"], "reason": "trusted input"}
        )
    assert set(results) == set(schemas) - (CORE_INVOKES - {"invoke_security"})
    for name, result in results.items():
        assert not result.is_error, (name, result.content)
        schema = schemas[name]
        assert schema is not None and result.structured_content is not None, name
        jsonschema.Draft202012Validator(schema).validate(result.structured_content)  # the SDK client did too
        _every_listed_key(schema, result.structured_content, name)
    assert (results["wait_for_persona_job"].structured_content or {})["status"] == "complete"


@pytest.mark.parametrize("profile", ["developer", "reviewer", "ops", "all"])
async def test_the_invoke_reply_names_only_tools_the_profile_offers(
    make_settings: Callable[..., Settings], redis_url: str, profile: str
) -> None:
    """poll_command and message say what to call next: a tool the client was given (the default
    profile has no check_persona_job, and a call to it only answers that it is not offered)."""
    settings = make_settings(redis_url=redis_url, tools=profile)
    async with Client(build_server(settings, run_worker=False, watch=False)) as client:
        offered = {t.name for t in (await client.list_tools()).tools}
        started = await client.call_tool("invoke_security", {"task": "review app.py"})
        reply = started.structured_content or {}
        next_call = reply["poll_command"].split("(", 1)[0]
        followed = await client.call_tool(next_call, {"job_id": reply["job_id"], "timeout_seconds": 0})
    assert next_call in offered
    assert not followed.is_error, followed.content
    named = set(re.findall(r"\b(?:check|wait_for)_persona_job\b", reply["message"]))
    assert named and named <= offered, reply["message"]


async def test_one_invoke_tool_keeps_the_default_profile_within_15_kb(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    tools = await _tools(make_settings(redis_url=redis_url, tools="developer", persona_tools="single"))
    assert _wire_bytes(tools) <= 15_000


async def test_single_persona_tool_takes_an_enum_of_loaded_ids(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(redis_url=redis_url, tools="developer", persona_tools="single")
    async with Client(build_server(settings, run_worker=False, watch=False)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        started = await client.call_tool("invoke_persona", {"persona": "security", "task": "review app.py"})
        unknown = await client.call_tool("invoke_persona", {"persona": "nobody", "task": "review app.py"})
    assert not any(name.startswith("invoke_") and name != "invoke_persona" for name in tools)
    schema = tools["invoke_persona"].input_schema["properties"]["persona"]
    assert schema["enum"] == ["architect", "data", "engineer", "qa", "security", "sre"]
    description = tools["invoke_persona"].description or ""
    assert all(f"- {pid}: " in description for pid in schema["enum"])
    assert not started.is_error, started.content
    assert (started.structured_content or {})["persona"] == "security"
    assert unknown.is_error


def test_a_comma_list_mixes_profiles_and_tools_and_bad_names_are_explained() -> None:
    available = ["invoke_qa", "wait_for_persona_job", "list_personas", "reset_persona_jobs", "check_persona_job"]
    assert select_tools("developer, reset_persona_jobs", available) == [
        "invoke_qa",
        "wait_for_persona_job",
        "list_personas",
        "reset_persona_jobs",
    ]
    assert select_tools("list_personas", available) == ["list_personas"]
    with pytest.raises(ToolSelectionError, match=r"'nope'.*developer, reviewer, ops, all.*reset_persona_jobs"):
        select_tools("developer,nope", available)
    with pytest.raises(ToolSelectionError, match="is empty"):
        select_tools(" , ", available)


def test_serve_refuses_an_unknown_tools_flag(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(settings.project_root))
    assert cli_main(["serve", "--tools", "developer,invoke_nobody"]) == 2
    err = capsys.readouterr().err
    assert "'invoke_nobody'" in err
    assert "invoke_security" in err
