"""The tool surface against careless and hostile calls: misspelt arguments, pasted values echoed in
errors, an unknown persona in single mode, near-miss PERSONAS_TOOLS values. Each answer says what
was wrong and what to do, and stays short."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from mcp import Client, MCPError

from mcp_server.server import build_server
from mcp_server.settings import Settings
from mcp_server.tools.guard import MAX_ERROR_CHARS, shorten_error
from mcp_server.tools.profiles import ToolSelectionError, select_tools
from tests.hostile.helpers import refused


async def test_a_misspelt_argument_is_refused_with_the_closest_one_and_nothing_starts(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    async with Client(build_server(make_settings(redis_url=redis_url), run_worker=False, watch=False)) as client:
        contexts = await refused(client, "invoke_security", task="review app.py", contexts="app.py")
        severity = await refused(client, "invoke_security", task="review", min_severty="high", colour="red")
        wait = await refused(client, "wait_for_persona_job", job_id="x", timeout=5)
        files = await refused(client, "invoke_security", task="review", files={"a.py": "x"})
        nothing = await client.call_tool("search_standards", {"query": "logging", "source": None})
        jobs = (await client.call_tool("list_persona_jobs", {})).structured_content or {}
    assert contexts == (
        "invoke_security has no argument 'contexts' (did you mean 'context'?): nothing was done. It takes: task, "
        "context, priority, follow_up_of, changes, min_severity, cited_only."
    )
    assert "no arguments 'colour', 'min_severty' (did you mean 'min_severity'?)" in severity
    assert "'timeout' (did you mean 'timeout_seconds'?)" in wait
    assert "--remote-clients" in files  # taken but not offered: the tool's own refusal says how to enable it
    assert jobs["total_count"] == 0
    assert not nothing.is_error, nothing.content  # an unknown argument set to null says nothing


async def test_a_tool_the_profile_leaves_out_says_how_to_get_it(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(redis_url=redis_url, tools="developer")
    async with Client(build_server(settings, run_worker=False, watch=False)) as client:
        check = await refused(client, "check_persona_job", job_id="x")
        reset = await refused(client, "reset_persona_jobs", confirm=True)
        approve = await refused(client, "approve_standard_proposal", proposal_id="p")
        nowhere = await refused(client, "no_such_tool")
    assert check.startswith("check_persona_job is not offered by this server (PERSONAS_TOOLS=developer)")
    assert "wait_for_persona_job(job_id, timeout_seconds=0) checks a job the same way" in check
    assert "The ops, all profiles offer it" in check and "PERSONAS_TOOLS=developer,check_persona_job" in check
    assert "nothing was done" in reset
    assert "The reviewer, all profiles offer it" in approve
    assert "no_such_tool" in nowhere


async def test_an_error_quoting_a_pasted_value_stays_short_and_keeps_the_fix(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    pasted = "y" * 100_000
    async with Client(build_server(make_settings(redis_url=redis_url), run_worker=False, watch=False)) as client:
        errors = [
            await refused(client, "check_persona_job", job_id=pasted),
            await refused(client, "get_standard_proposal", proposal_id=pasted),
            await refused(client, "invoke_panel", personas=[pasted, "qa"], task="review"),
            await refused(client, "search_standards", query="logging", domain=pasted),
        ]
    for error in errors:
        assert len(error) < 400, error[:400]
        assert pasted[:200] not in error and "characters]" in error, error
    assert "Use the job_id returned by an invoke_* tool" in errors[0]
    assert "Known personas: architect" in errors[2]


async def test_a_protocol_error_quoting_a_pasted_uri_stays_short(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    pasted = "q" * 100_000
    async with Client(build_server(make_settings(redis_url=redis_url), run_worker=False, watch=False)) as client:
        for uri in (f"personas://jobs/{pasted}", f"personas://nowhere/{pasted}"):
            with pytest.raises(MCPError) as info:
                await client.read_resource(uri)
            error = info.value
            assert error.message.startswith("Unknown resource: personas://") or "No job" in error.message
            assert len(error.message) < 300 and "characters]" in error.message, error.message[:300]
            assert len(str(error.data)) < 300  # the SDK's data quotes the URI as well


def test_shortening_keeps_ordinary_errors_and_cuts_long_ones_in_the_middle() -> None:
    ordinary = "No job with id 'nope'. Use the job_id returned by an invoke_* tool."
    assert shorten_error(ordinary) == ordinary
    prose = "word " * 2000 + "Fix: do this."
    short = shorten_error(prose)
    assert len(short) <= MAX_ERROR_CHARS + 60
    assert short.startswith("word word") and short.endswith("Fix: do this.")
    assert "characters left out]" in short


async def test_an_unknown_persona_in_single_mode_names_the_known_ones(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(redis_url=redis_url, persona_tools="single")
    async with Client(build_server(settings, run_worker=False, watch=False)) as client:
        unknown = await refused(client, "invoke_persona", persona="securty", task="review app.py")
        typed = await refused(client, "invoke_persona", persona=["security"], task="review app.py")
        listed = {t.name: t for t in (await client.list_tools()).tools}
    assert "Unknown persona 'securty'" in unknown
    assert "Known personas: architect, data, engineer, qa, security, sre" in unknown
    assert "persona" in typed and "valid string" in typed
    schema = listed["invoke_persona"].input_schema["properties"]["persona"]
    assert schema["enum"] == ["architect", "data", "engineer", "qa", "security", "sre"]


@pytest.mark.parametrize(
    ("spec", "available", "hint"),
    [
        ("Developer", ["invoke_qa"], "did you mean 'developer'?"),
        ("list_persona", ["invoke_qa", "list_personas"], "did you mean 'list_personas'?"),
        ("invoke_persona", ["invoke_qa"], "invoke_persona is offered with PERSONAS_PERSONA_TOOLS=single"),
        ("developer,invoke_qa", ["invoke_persona"], "with PERSONAS_PERSONA_TOOLS=single the personas share"),
    ],
)
def test_near_miss_tool_selections_say_what_was_meant(spec: str, available: list[str], hint: str) -> None:
    with pytest.raises(ToolSelectionError, match=r"Use a profile") as info:
        select_tools(spec, available)
    assert hint in str(info.value)
