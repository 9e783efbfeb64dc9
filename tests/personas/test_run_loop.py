"""The tool-use loop against the scripted fake Messages API, through the real anthropic client."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from personas.model import PersonaDefinition
from personas.runtime import LLMConfig, PersonaRunError, RunLimits, RunRequest, RunToolbox, run_persona
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.personas.helpers import (
    FakeSearch,
    Progress,
    call,
    calls,
    finding,
    last_user_text,
    submit,
    tool_results,
)

REQUEST = RunRequest(job_id="job-1", task="Review the login flow for token handling")


async def test_full_conversation_search_read_submit(
    fake_api: FakeAnthropic,
    llm: LLMConfig,
    security: PersonaDefinition,
    toolbox: RunToolbox,
    search: FakeSearch,
) -> None:
    fake_api.add(
        fake.tool_use(
            "search_standards",
            {"query": "jwt validation", "domain": "security"},
            preface="Checking the team's JWT rules first.",
            input_tokens=100,
            output_tokens=10,
        ),
        fake.tool_use("read_file", {"path": "api/login.py"}, input_tokens=200, output_tokens=20),
        submit(
            "**Verdict: Block.** Tokens are never verified.",
            [
                finding("medium", "Claims read without a check", location="api/login.py:6"),
                finding(
                    "critical",
                    "JWT signature not verified",
                    location="api/login.py:5",
                    detail="verify_signature is False, so anyone can forge a token | and log in.",
                    standard_refs=["security/authentication-and-sessions.md#The rule"],
                    recommendation="Verify signature, alg, aud and exp.",
                ),
            ],
            input_tokens=300,
            output_tokens=30,
        ),
    )
    progress = Progress()

    outcome = await run_persona(security, REQUEST, llm, progress, toolbox)

    assert outcome.mode == "review"
    assert outcome.ended_by == "submit_review"
    assert [f["severity"] for f in outcome.findings] == ["critical", "medium"]
    assert outcome.findings[0]["standard_refs"] == ["security/authentication-and-sessions.md#The rule"]
    assert outcome.findings[0]["location"] == "api/login.py:5"
    md = outcome.result
    assert md.startswith("# Security Engineer review\n\n**Verdict: Block.**")
    assert "| 1 | critical | JWT signature not verified | api/login.py:5 |" in md
    assert "### 1. [CRITICAL] JWT signature not verified" in md
    assert "forge a token | and log in" in md  # detail kept verbatim; only table cells are escaped
    assert "**Standards:** `security/authentication-and-sessions.md#The rule`" in md
    assert "**Recommendation:** Verify signature, alg, aud and exp." in md
    assert (outcome.tokens_input, outcome.tokens_output) == (600, 60)
    assert (outcome.turns, outcome.tool_calls) == (3, 3)
    assert progress.phases() == ["initializing", "searching", "analyzing", "generating"]
    percents = [u.percent_complete for u in progress.updates]
    assert percents == sorted(percents)
    assert progress.updates[-1].tool_calls_completed == 2
    assert progress.updates[-1].tokens_input == 600
    assert any(u.message == "Searching standards: 'jwt validation'" for u in progress.updates)
    assert any(u.message == "Reading api/login.py" for u in progress.updates)
    assert any(u.eta_seconds is not None for u in progress.updates)
    assert "Checking the team's JWT rules first." in (progress.updates[-1].partial_result or "")
    assert search.calls == [{"query": "jwt validation", "domain": "security", "limit": 5, "paths": None}]

    first, second, third = fake_api.requests
    assert [t["name"] for t in first["tools"]] == [
        "search_standards",
        "list_files",
        "read_file",
        "propose_standard",
        "submit_review",
    ]
    assert first["max_tokens"] == security.personality.max_tokens
    assert "temperature" not in first
    assert "tool_choice" not in first
    assert outcome.prompt_hash == hashlib.sha256(first["system"].encode()).hexdigest()[:16]
    assert outcome.persona_id == "security"
    assert outcome.persona_version == security.version
    (search_result,) = tool_results(second)
    assert "ref: security/authentication-and-sessions.md#The rule" in search_result["content"]
    assert "is_error" not in search_result
    (read_result,) = tool_results(third)
    assert "api/login.py (lines 1-6 of 6)" in read_result["content"]
    assert '5 |     claims = jwt.decode(token, options={"verify_signature": False})' in read_result["content"]
    # The stored conversation is JSON-able and closed by the submit_review tool_result.
    assert json.loads(json.dumps(outcome.messages)) == outcome.messages
    assert outcome.messages[-1]["role"] == "user"
    assert outcome.messages[-1]["content"][0]["type"] == "tool_result"


async def test_malformed_tool_input_goes_back_as_an_error(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    bad_read = call("read_file", {"path": 42, "start_line": "first"})
    not_an_object = call("list_files", "api/*.py")
    extra_field = call("search_standards", {"query": "jwt", "colour": "red"})
    fake_api.add(
        calls(bad_read, not_an_object, extra_field),
        submit("Verdict: OK.", [finding("urgent")]),
        submit("Verdict: OK.", [finding("High")]),
    )

    outcome = await run_persona(security, REQUEST, llm, Progress(), toolbox)

    results = {r["tool_use_id"]: r for r in tool_results(fake_api.requests[1])}
    assert results[bad_read["id"]]["is_error"] is True
    assert "Invalid input for read_file" in results[bad_read["id"]]["content"]
    assert "path" in results[bad_read["id"]]["content"]
    assert "start_line" in results[bad_read["id"]]["content"]
    assert results[not_an_object["id"]]["is_error"] is True
    assert "must be a JSON object" in results[not_an_object["id"]]["content"]
    assert "colour" in results[extra_field["id"]]["content"]
    (bad_submit,) = tool_results(fake_api.requests[2])
    assert bad_submit["is_error"] is True
    assert "severity" in bad_submit["content"]
    assert outcome.findings[0]["severity"] == "high"  # case-insensitive severity accepted
    assert outcome.tool_calls == 5


async def test_unknown_tool_name_is_refused_and_the_run_continues(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    restricted = security.model_copy(update={"tools": ["read_file", "submit_review"]})
    fake_api.add(
        calls(call("delete_repo", {"confirm": True}), call("search_standards", {"query": "jwt"})),
        submit(),
    )

    outcome = await run_persona(restricted, REQUEST, llm, Progress(), toolbox)

    assert [t["name"] for t in fake_api.requests[0]["tools"]] == ["read_file", "submit_review"]
    unknown, not_offered = tool_results(fake_api.requests[1])
    assert unknown["is_error"]
    assert "Unknown tool 'delete_repo'" in unknown["content"]
    assert "read_file, submit_review" in unknown["content"]
    assert not_offered["is_error"]
    assert "Unknown tool 'search_standards'" in not_offered["content"]
    assert outcome.ended_by == "submit_review"


async def test_max_turns_exhausted_fails_with_partial_result(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    fake_api.default = lambda _req: fake.tool_use("list_files", {"pattern": "**/*.py"}, preface="Still looking.")
    toolbox.limits = RunLimits(max_turns=3)

    with pytest.raises(PersonaRunError) as caught:
        await run_persona(security, REQUEST, llm, Progress(), toolbox)

    assert not caught.value.transient
    assert "turn limit (3" in str(caught.value)
    partial = caught.value.partial_result or ""
    assert "Still looking." in partial
    assert "Listing files: **/*.py" in partial
    assert len(fake_api.requests) == 3
    last = fake_api.requests[-1]
    assert last["tool_choice"] == {"type": "tool", "name": "submit_review"}
    assert "This is your last turn" in last["messages"][-1]["content"][-1]["text"]
    assert "tool_choice" not in fake_api.requests[0]


async def test_tool_call_limit_forces_a_final_submit(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    toolbox.limits = RunLimits(max_tool_calls=2)
    fake_api.add(
        calls(*(call("search_standards", {"query": f"q{i}"}) for i in range(3))),
        submit("Done with what I had."),
    )

    outcome = await run_persona(security, REQUEST, llm, Progress(), toolbox)

    third = tool_results(fake_api.requests[1])[2]
    assert third["is_error"]
    assert "Tool-call limit reached (2)" in third["content"]
    assert fake_api.requests[1]["tool_choice"] == {"type": "tool", "name": "submit_review"}
    assert outcome.ended_by == "submit_review"
    assert outcome.tool_calls == 3


async def test_text_answer_is_accepted_as_the_review(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    fake_api.add(fake.text("Looks fine: the token is verified upstream."))

    outcome = await run_persona(security, REQUEST, llm, Progress(), toolbox)

    assert outcome.ended_by == "text"
    assert outcome.findings == []
    assert "Looks fine: the token is verified upstream." in outcome.result
    assert "no structured findings" in outcome.result
    assert fake_api.requests[0]["messages"][0]["content"].startswith("# Task\nReview the login flow")


async def test_empty_turn_gets_one_nudge_then_fails(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    fake_api.add(fake.message([]), fake.message([]))

    with pytest.raises(PersonaRunError, match="empty answer twice"):
        await run_persona(security, REQUEST, llm, Progress(), toolbox)

    second = fake_api.requests[1]
    assert [m["role"] for m in second["messages"]] == ["user"]
    assert "Call submit_review" in last_user_text(second)


async def test_tool_input_cut_off_at_max_tokens_is_not_run(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    cut = fake.tool_use("submit_review", {"summary": "Verdict"})
    assert cut.body is not None
    cut.body["stop_reason"] = "max_tokens"
    fake_api.add(cut, submit("Verdict: short."))

    outcome = await run_persona(security, REQUEST, llm, Progress(), toolbox)

    (result,) = tool_results(fake_api.requests[1])
    assert result["is_error"]
    assert "output limit" in result["content"]
    assert outcome.result.startswith("# Security Engineer review\n\nVerdict: short.")


async def test_send_temperature_uses_extra_body(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    fake_api.add(submit())
    await run_persona(security, REQUEST, llm.model_copy(update={"send_temperature": True}), Progress(), toolbox)
    assert fake_api.requests[0]["temperature"] == security.personality.temperature


async def test_without_toolbox_the_old_worker_call_still_works(
    fake_api: FakeAnthropic,
    llm: LLMConfig,
    security: PersonaDefinition,
    tree: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tree)
    fake_api.add(
        calls(
            call("search_standards", {"query": "jwt"}),
            call(
                "propose_standard",
                {"domain": "security", "topic": "jwt", "title": "T", "content": "C", "rationale": "R"},
            ),
            call("read_file", {"path": "api/util.py"}),
        ),
        submit(),
    )

    outcome = await run_persona(security, REQUEST, llm, Progress())

    search_result, propose_result, read_result = tool_results(fake_api.requests[1])
    assert search_result["is_error"]
    assert "standards index is unavailable" in search_result["content"]
    assert propose_result["is_error"]
    assert "cannot be stored" in propose_result["content"]
    assert "def helper" in read_result["content"]
    assert outcome.proposals == []
