"""The whole loop through the real stack (MCP client → server → Redis → worker → scripted model):
a persona proposes a standard while reviewing, a human asks for changes, the persona revises it
(version 2 of the same proposal), the human approves, and search_standards returns it at once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic

TOPIC = "webhook-signature-verification"
V1 = """## Summary
Verify the HMAC signature of every inbound webhook before parsing its body.

## The rule
1. Compute HMAC-SHA256 over the raw body with the secret from `$WEBHOOK_SECRET`.
2. Compare with `hmac.compare_digest`; reject with 401 on mismatch.
"""
V2 = (
    V1
    + """
## Examples
Reject replayed zebrafish deliveries older than five minutes using the timestamp header.
"""
)
LEAKED = "whsec_" + "9f8e7d6c5b4a3f2e1d0c"


def _last_tool_result(request: dict[str, Any]) -> dict[str, Any]:
    for message in reversed(request["messages"]):
        if message["role"] == "user" and isinstance(message["content"], list):
            for block in message["content"]:
                if block.get("type") == "tool_result":
                    return dict(block)
    raise AssertionError("no tool_result in the request")


def _proposal_id(request: dict[str, Any]) -> str:
    """The id propose_standard returned, from the last tool_result the model was sent."""
    block = _last_tool_result(request)
    match = re.search(r"stored with id ([0-9a-f-]{36})", str(block["content"]))
    assert match, block
    return match.group(1)


def _submit(summary: str) -> Callable[[dict[str, Any]], fake.Reply]:
    def reply(request: dict[str, Any]) -> fake.Reply:
        return fake.tool_use(
            "submit_review", {"summary": summary, "findings": [], "proposed_standards": [_proposal_id(request)]}
        )

    return reply


def _propose(content: str) -> fake.Reply:
    return fake.tool_use(
        "propose_standard",
        {
            "domain": "security",
            "topic": TOPIC,
            "title": "Verify webhook signatures",
            "content": content,
            "rationale": "Unverified webhooks in api/hooks.py and api/billing.py",
        },
    )


async def _finished(client: Client, job_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        report = (await client.call_tool("check_persona_job", {"job_id": job_id})).structured_content
        return report if report and report["status"] in ("complete", "failed", "cancelled") else None

    report = await wait_for(done, timeout=60, what=f"job {job_id}")
    assert report["status"] == "complete", report
    return report


async def _call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    body = result.structured_content
    assert isinstance(body, dict)
    return body


async def test_propose_revise_approve_search(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    revision_requests: list[dict[str, Any]] = []

    def revise(request: dict[str, Any]) -> fake.Reply:
        revision_requests.append(request)
        return _propose(V2)

    refusals: list[dict[str, Any]] = []

    def retry_without_the_secret(request: dict[str, Any]) -> fake.Reply:
        refusals.append(_last_tool_result(request))
        return _propose(V1)

    fake_api.add(
        _propose(V1 + f"\nExample: WEBHOOK_SECRET={LEAKED}\n"),  # refused: the model sees a tool error
        retry_without_the_secret,
        _submit("Webhooks are unverified; I proposed a standard."),
        revise,
        _submit("Added the replay example."),
    )
    settings = make_settings(redis_url=redis_url, anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url)
    async with Client(build_server(settings)) as client:
        # 1. a review run proposes a standard
        started = await _call(client, "invoke_security", task="review the webhook handlers", context="app.py")
        review = await _finished(client, started["job_id"])
        assert "Proposed standards" in review["result"] and TOPIC in review["result"]
        (refusal,) = refusals
        assert refusal.get("is_error") is True
        assert "content line 8: literal value assigned to 'WEBHOOK_SECRET'" in str(refusal["content"])
        assert LEAKED not in str(refusal["content"])
        (listed,) = (await _call(client, "list_standard_proposals"))["proposals"]
        pid = listed["id"]
        assert (listed["proposed_by"], listed["version"], listed["action"]) == ("security", 1, "create")

        # 2. the human asks for changes: a revision run of the same persona makes version 2
        feedback = "Add an example about replayed deliveries."
        changes = await _call(client, "request_standard_changes", proposal_id=pid, feedback=feedback)
        await _finished(client, changes["revision_job_id"])
        first_turn = str(revision_requests[0]["messages"][0]["content"])
        assert feedback in first_turn and "Verify the HMAC signature" in first_turn  # task + current draft
        revised = await _call(client, "get_standard_proposal", proposal_id=pid)
        assert (revised["id"], revised["version"], revised["status"], revised["content"]) == (pid, 2, "draft", V2)
        assert revised["job_id"] == changes["revision_job_id"] and revised["approvable"]

        # 3. approval writes the file and indexes it: searchable at once, no waiting
        approved = await _call(client, "approve_standard_proposal", proposal_id=pid, approved_by="alice")
        assert approved["indexed"] and approved["file"] == f"security/{TOPIC}.md"
        found = await _call(client, "search_standards", query="replayed zebrafish webhook deliveries", limit=3)
        top = found["results"][0]
        assert (top["file"], top["source"], top["domain"]) == (f"security/{TOPIC}.md", "project", "security")
        assert "zebrafish" in "".join(hit["text"] for hit in found["results"])

    text = (settings.standards_dir / "security" / f"{TOPIC}.md").read_text()
    assert text.startswith("---\ntitle: Verify webhook signatures\ndomain: security\n")
    assert "approved_by: alice" in text and "created_by: security" in text and "Reject replayed zebrafish" in text
