"""Approval by the human through MCP elicitation: the SDK client's elicitation callback accepts, declines
or cancels; both protocol eras (a mid-call elicitation/create, and 2026-07-28's input-required round trip)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult

from mcp_server.server import build_server
from mcp_server.settings import Settings
from standards.curation.store import ProposalStore
from tests.proposals.conftest import DRAFT

MODES = ["legacy", "auto"]
"""'legacy': initialize handshake, elicitation/create mid-call; 'auto' in-process: 2026-07-28, input-required."""


class User:
    """The person at the client: answers every dialog the same way and remembers what it was shown."""

    def __init__(self, action: str, content: dict[str, Any] | None = None) -> None:
        self.action = action
        self.content = content
        self.shown: list[ElicitRequestFormParams] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)  # a form, never a URL
        self.shown.append(params)
        return ElicitResult(action=self.action, content=self.content)  # type: ignore[arg-type]


async def _seed(settings: Settings, **overrides: Any) -> str:
    async with ProposalStore.open(settings.proposals_db_path, settings.standards_dir) as store:
        return await store.create_draft(**{**DRAFT, **overrides})


async def _call(settings: Settings, user: User | None, mode: str, tool: str, **args: Any) -> tuple[bool, Any]:
    server = build_server(settings, run_worker=False, watch=False)
    async with Client(server, mode=mode, elicitation_callback=user) as client:
        result = await client.call_tool(tool, args)
        status = await client.call_tool("list_standard_proposals", {"status": "all"})
    text = " ".join(getattr(block, "text", "") for block in result.content)
    statuses = {p["id"]: p["status"] for p in (status.structured_content or {})["proposals"]}
    return result.is_error, (result.structured_content if not result.is_error else text, statuses)


def _target(settings: Settings) -> Path:
    return settings.standards_dir / "security" / "jwt-verification.md"


@pytest.mark.parametrize("mode", MODES)
async def test_the_user_approves_in_the_dialog(
    make_settings: Callable[..., Settings], redis_url: str, mode: str
) -> None:
    settings = make_settings(redis_url=redis_url)
    proposal_id = await _seed(settings)
    user = User("accept", {"decision": "approve"})
    failed, (body, statuses) = await _call(settings, user, mode, "approve_standard_proposal", proposal_id=proposal_id)
    assert not failed, body
    assert (body["status"], body["decided_in_dialog"], body["file"]) == (
        "approved",
        "approve",
        "security/jwt-verification.md",
    )
    assert _target(settings).is_file()
    (shown,) = user.shown
    assert "Verify JWTs" in shown.message and str(_target(settings)) in shown.message and "new file" in shown.message
    assert shown.requested_schema["properties"]["decision"]["enum"] == ["approve", "request_changes", "reject"]
    assert statuses[proposal_id] == "approved"

    again = User("accept", {"decision": "approve"})
    failed, (text, _) = await _call(settings, again, mode, "approve_standard_proposal", proposal_id=proposal_id)
    assert failed and "approved" in text
    assert again.shown == []  # a decided proposal is not put to the user


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_decline_or_cancel_changes_nothing(
    make_settings: Callable[..., Settings], redis_url: str, mode: str, action: str
) -> None:
    settings = make_settings(redis_url=redis_url)
    proposal_id = await _seed(settings)
    user = User(action)
    failed, (text, statuses) = await _call(settings, user, mode, "approve_standard_proposal", proposal_id=proposal_id)
    assert failed
    assert f"The user {action}" in text and "nothing was changed" in text
    assert statuses[proposal_id] == "draft"
    assert not _target(settings).exists()
    assert len(user.shown) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_the_user_rejects_instead_of_approving(
    make_settings: Callable[..., Settings], redis_url: str, mode: str
) -> None:
    settings = make_settings(redis_url=redis_url)
    proposal_id = await _seed(settings)
    user = User("accept", {"decision": "reject", "feedback": "We use opaque session tokens."})
    failed, (body, statuses) = await _call(settings, user, mode, "approve_standard_proposal", proposal_id=proposal_id)
    assert not failed, body
    assert (body["status"], body["decided_in_dialog"], body["feedback"]) == (
        "rejected",
        "reject",
        "We use opaque session tokens.",
    )
    assert statuses[proposal_id] == "rejected"
    assert not _target(settings).exists()


async def test_reject_asks_too_and_a_pick_without_feedback_changes_nothing(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(redis_url=redis_url)
    proposal_id = await _seed(settings)
    confirm = User("accept", {"decision": "reject"})
    failed, (body, statuses) = await _call(
        settings, confirm, "legacy", "reject_standard_proposal", proposal_id=proposal_id, feedback="Duplicate."
    )
    assert not failed, body
    assert (body["status"], body["feedback"], body["decided_in_dialog"]) == ("rejected", "Duplicate.", "reject")
    assert "reject" in confirm.shown[0].message
    assert confirm.shown[0].requested_schema["properties"]["decision"]["default"] == "reject"

    other = await _seed(settings, topic="token-storage", title="Store tokens safely")
    approve_bare = User("accept", {"decision": "request_changes"})
    failed, (text, statuses) = await _call(
        settings, approve_bare, "legacy", "approve_standard_proposal", proposal_id=other
    )
    assert failed and "without feedback" in text
    assert statuses[other] == "draft"


async def test_clients_without_elicitation_keep_todays_behaviour_unless_required(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(redis_url=redis_url)
    proposal_id = await _seed(settings)
    failed, (body, statuses) = await _call(
        settings, None, "legacy", "approve_standard_proposal", proposal_id=proposal_id
    )
    assert not failed, body
    assert (body["status"], body["decided_in_dialog"]) == ("approved", None)

    strict = make_settings(redis_url=redis_url, require_elicitation=True)
    other = await _seed(strict, topic="token-storage", title="Store tokens safely")
    failed, (text, statuses) = await _call(strict, None, "legacy", "approve_standard_proposal", proposal_id=other)
    assert failed and "PERSONAS_REQUIRE_ELICITATION" in text
    assert statuses[other] == "draft"
    failed, (text, _) = await _call(strict, None, "legacy", "reset_persona_jobs", confirm=True)
    assert failed and "PERSONAS_REQUIRE_ELICITATION" in text


@pytest.mark.parametrize("mode", MODES)
async def test_reset_happens_only_when_the_user_ticks_the_box(
    make_settings: Callable[..., Settings], redis_url: str, mode: str
) -> None:
    settings = make_settings(redis_url=redis_url)
    answers = [User("accept", {"delete_all_jobs": False}), User("decline"), User("accept", {"delete_all_jobs": True})]
    outcomes = []
    for user in answers:
        async with Client(
            build_server(settings, run_worker=False, watch=False), mode=mode, elicitation_callback=user
        ) as client:
            await client.call_tool("invoke_security", {"task": "review app.py"})
            result = await client.call_tool("reset_persona_jobs", {"confirm": True})
            listed = (await client.call_tool("list_persona_jobs", {})).structured_content or {}
        outcomes.append((result.is_error, listed["total_count"]))
        assert "Delete all" in user.shown[0].message
    assert outcomes == [(True, 1), (True, 2), (False, 0)]
