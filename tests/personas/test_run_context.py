"""Context inlining, its cap, follow-ups with history, proposals and briefing mode."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from personas.model import PersonaDefinition
from personas.runtime import LLMConfig, PersonaRunError, RunLimits, RunRequest, RunToolbox, run_persona
from standards.curation.store import ProposalStore
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


async def test_context_paths_are_inlined_through_the_sandbox(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    context = "api/login.py\nPlease focus on token handling.\n../outside/secret.txt\nimage.bin\n  api/util.py  "
    fake_api.add(submit())

    await run_persona(security, RunRequest(job_id="j", task="Review", context=context), llm, Progress(), toolbox)

    first = fake_api.requests[0]["messages"][0]["content"]
    assert first.startswith("# Task\nReview\n\n# Context\napi/login.py (inlined below)\nPlease focus on token")
    assert '### File: api/login.py\n<data source="api/login.py">\nimport jwt\n' in first
    assert '### File: api/util.py\n<data source="api/util.py">\ndef helper():' in first
    assert "../outside/secret.txt\n  (not inlined: '..' is refused" in first
    assert "image.bin\n  (not inlined: 'image.bin' is a binary file" in first
    assert "TOP-SECRET-OUTSIDE" not in first


async def test_context_over_the_cap_is_a_clear_permanent_error(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox, tree: Path
) -> None:
    (tree / "big.py").write_text("# filler\n" * 100)
    toolbox.limits = RunLimits(max_context_chars=500)
    request = RunRequest(job_id="j", task="Review", context="big.py")

    with pytest.raises(PersonaRunError) as caught:
        await run_persona(security, request, llm, Progress(), toolbox)

    assert not caught.value.transient
    assert "PERSONAS_MAX_CONTEXT_CHARS" in str(caught.value)
    assert "the cap is 500" in str(caught.value)
    assert fake_api.requests == []


async def test_follow_up_continues_the_conversation(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    fake_api.add(
        fake.tool_use("read_file", {"path": "api/login.py"}),
        submit("Verdict: Block.", [finding("critical", "Signature not verified")]),
    )
    first = await run_persona(security, RunRequest(job_id="j1", task="Review login"), llm, Progress(), toolbox)
    history = json.loads(json.dumps(first.messages))  # as stored by the worker

    fake_api.add(
        submit(
            "Verdict: Block.",
            [finding("critical", "Signature not verified"), finding("low", "No rate limit")],
        )
    )
    follow = RunRequest(job_id="j2", task="Yes, but also cover rate limiting", context="api/util.py", history=history)
    second = await run_persona(security, follow, llm, Progress(), toolbox)

    sent = fake_api.requests[-1]["messages"]
    assert sent[: len(history) - 1] == history[:-1]
    closing = sent[len(history) - 1]
    assert closing["role"] == "user"
    assert closing["content"][0]["type"] == "tool_result"  # submit_review's result, then the new request
    assert closing["content"][-1]["text"].startswith("# Follow-up request\nYes, but also cover rate limiting")
    assert "### File: api/util.py" in closing["content"][-1]["text"]
    assert [f["title"] for f in second.findings] == ["Signature not verified", "No rate limit"]
    assert len(second.messages) == len(history) + 2
    assert second.prompt_hash == first.prompt_hash


async def test_follow_up_of_a_history_ending_in_an_open_tool_call(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "# Task\nReview"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_old", "name": "list_files", "input": {"pattern": "*"}}],
        },
    ]
    fake_api.add(submit())

    await run_persona(security, RunRequest(job_id="j", task="Go on", history=history), llm, Progress(), toolbox)

    (closed,) = tool_results(fake_api.requests[0])
    assert closed["tool_use_id"] == "toolu_old"
    assert "Go on" in last_user_text(fake_api.requests[0])


async def test_malformed_history_is_refused(llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox) -> None:
    request = RunRequest(job_id="j", task="Go on", history=[{"role": "robot", "content": "hi"}])
    with pytest.raises(PersonaRunError, match="history is malformed at message 0"):
        await run_persona(security, request, llm, Progress(), toolbox)


@pytest.fixture
async def proposals(tmp_path: Path) -> AsyncIterator[ProposalStore]:
    async with ProposalStore.open(tmp_path / "proposals.sqlite3") as store:
        yield store


async def test_propose_standard_stores_a_draft(
    fake_api: FakeAnthropic,
    llm: LLMConfig,
    security: PersonaDefinition,
    toolbox: RunToolbox,
    proposals: ProposalStore,
) -> None:
    toolbox.proposals = proposals
    good = call(
        "propose_standard",
        {
            "domain": "security",
            "topic": "jwt-verification",
            "title": "Verify JWTs",
            "content": "## Summary\nVerify.",
            "rationale": "api/login.py:5, api/admin.py:9",
        },
    )
    wrong_domain = call(
        "propose_standard",
        {"domain": "testing", "topic": "x", "title": "T", "content": "C", "rationale": "R"},
    )
    bad_topic = call(
        "propose_standard",
        {"domain": "security", "topic": "Not A Slug", "title": "T", "content": "C", "rationale": "R"},
    )

    def final(request: dict[str, Any]) -> fake.Reply:
        stored = tool_results(request)[0]["content"]
        proposal_id = stored.split("id ")[1].split(" ")[0]
        return fake.tool_use("submit_review", {"summary": "Verdict: OK.", "proposed_standards": [proposal_id]})

    fake_api.add(calls(good, wrong_domain, bad_topic), final)

    outcome = await run_persona(security, RunRequest(job_id="job-p", task="Review"), llm, Progress(), toolbox)

    results = tool_results(fake_api.requests[1])
    assert "Draft proposal stored with id" in results[0]["content"]
    assert results[1]["is_error"]
    assert "propose into: security" in results[1]["content"]
    assert results[2]["is_error"]
    assert "topic" in results[2]["content"]
    (stored,) = await proposals.list()
    assert (stored.domain, stored.topic, stored.status, stored.proposed_by, stored.job_id) == (
        "security",
        "jwt-verification",
        "draft",
        "security",
        "job-p",
    )
    assert outcome.proposals == [
        {"id": stored.id, "domain": "security", "topic": "jwt-verification", "title": "Verify JWTs"}
    ]
    assert f"`security/jwt-verification`: Verify JWTs (draft `{stored.id}`" in outcome.result
    assert "no draft was stored" not in outcome.result


async def test_briefing_without_api_key(
    fake_api: FakeAnthropic, security: PersonaDefinition, toolbox: RunToolbox, search: FakeSearch
) -> None:
    request = RunRequest(job_id="j", task="Is our JWT handling safe?")

    outcome = await run_persona(security, request, LLMConfig(api_key=None), Progress(), toolbox)

    assert outcome.mode == "briefing"
    assert outcome.ended_by == "briefing"
    text = outcome.result
    assert text.startswith("# Briefing from Security Engineer (no review was run)")
    assert "ANTHROPIC_API_KEY is not set" in text
    assert "## Checklist: how the Security Engineer reviews\nWork in this order" in text
    assert "9. Abuse:" in text
    assert "## Severity" not in text
    assert "## Refusals" not in text
    assert "### 1. `security/authentication-and-sessions.md#The rule` (score 0.91)" in text
    assert "### 2. `security/secrets-management.md#The rule`" in text
    assert search.calls == [{"query": "Is our JWT handling safe?", "domain": None, "limit": 5, "paths": None}]
    assert fake_api.requests == []
    assert outcome.persona_id == "security"
    assert len(outcome.prompt_hash) == 16


async def test_briefing_without_search(security: PersonaDefinition, tree: Path) -> None:
    outcome = await run_persona(
        security,
        RunRequest(job_id="j", task="Review"),
        LLMConfig(),
        Progress(),
        RunToolbox(project_root=tree),
    )
    assert "standards index is unavailable" in outcome.result


@pytest.mark.parametrize("persona_id", ["architect", "data", "engineer", "qa", "security", "sre"])
async def test_every_core_persona_has_a_checklist_for_briefings(persona_id: str, tree: Path) -> None:
    from personas.registry import PersonaRegistry

    persona = PersonaRegistry.load().get(persona_id)
    outcome = await run_persona(
        persona, RunRequest(job_id="j", task="Review"), LLMConfig(), Progress(), RunToolbox(project_root=tree)
    )
    checklist = outcome.result.split("## Checklist:")[1].split("## Standards most relevant")[0]
    assert "\n1. " in checklist
    assert "## " not in checklist.split("\n", 1)[1]


async def test_a_briefing_says_what_to_review(security: PersonaDefinition, toolbox: RunToolbox) -> None:
    """Without an API key a change review used to brief on the task alone: the assistant applying it was
    not told which files changed, or which lines."""
    from personas.changes.models import ChangedFile, ChangeSet, LineRange

    change = ChangeSet(
        spec="working",
        kind="working",
        base="HEAD",
        head=None,
        diff="",
        diff_chars=0,
        files=[
            ChangedFile(path="api/login.py", status="modified", ranges=[LineRange(start=3, end=5)]),
            ChangedFile(path="evil\n## Injected", status="added"),
        ],
    )
    request = RunRequest(job_id="j", task="review my change", changes=change, context="api/util.py\napi/login.py")

    outcome = await run_persona(security, request, LLMConfig(api_key=None), Progress(), toolbox)

    scope = outcome.result.split("## What to review\n", 1)[1].split("\n\n## Checklist", 1)[0]
    assert scope.splitlines() == [
        "The change working (2 file(s)); focus on the changed lines:",
        "- api/login.py: modified, changed lines 3-5",
        "- evil\\n## Injected: added",
        "Also the files named in the context:",
        "- api/util.py",
    ]
    plain = await run_persona(security, RunRequest(job_id="k", task="Review"), LLMConfig(), Progress(), toolbox)
    assert "## What to review" not in plain.result  # nothing named: no empty section
