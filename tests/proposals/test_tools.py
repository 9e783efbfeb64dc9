"""The approval tools through the real MCP client: happy paths and tool errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from standards.curation.store import ProposalStore
from tests.proposals.conftest import DRAFT

TOOLS = {
    "list_standard_proposals",
    "get_standard_proposal",
    "approve_standard_proposal",
    "reject_standard_proposal",
    "request_standard_changes",
}


async def _seed(settings: Settings, **overrides: Any) -> str:
    async with ProposalStore.open(settings.proposals_db_path, settings.standards_dir) as store:
        return await store.create_draft(**{**DRAFT, **overrides})


async def _call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    body = result.structured_content
    assert isinstance(body, dict)
    return body


async def _error(client: Client, tool: str, **args: Any) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)


async def test_tools_list_get_approve_reject_request(make_settings: Callable[..., Settings], redis_url: str) -> None:
    settings = make_settings(redis_url=redis_url)
    first = await _seed(settings)
    second = await _seed(settings, topic="token-storage", title="Store tokens safely")
    third = await _seed(settings, topic="mtls", title="Mutual TLS between services")
    async with Client(build_server(settings, run_worker=False, watch=False)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) >= TOOLS and len(tools) <= 25
        assert "explicitly approved" in (tools["approve_standard_proposal"].description or "")

        listing = await _call(client, "list_standard_proposals")
        assert {p["id"] for p in listing["proposals"]} == {first, second, third}
        assert listing["counts"]["draft"] == 3

        detail = await _call(client, "get_standard_proposal", proposal_id=first)
        assert (detail["status"], detail["action"], detail["approvable"], detail["diff"]) == (
            "draft",
            "create",
            True,
            None,
        )
        assert detail["content"] == DRAFT["content"] and detail["path"].endswith("security/jwt-verification.md")

        approved = await _call(client, "approve_standard_proposal", proposal_id=first, approved_by="alice")
        assert (approved["status"], approved["approved_by"], approved["file"]) == (
            "approved",
            "alice",
            "security/jwt-verification.md",
        )
        assert os.path.isfile(approved["path"]) and approved["indexed"]
        # indexed by the approval itself (this server runs no watcher)
        found = await _call(client, "search_standards", query="verify JWT signature issuer audience expiry")
        assert "security/jwt-verification.md" in {hit["file"] for hit in found["results"]}

        rejected = await _call(client, "reject_standard_proposal", proposal_id=second, feedback="Not needed.")
        assert rejected["status"] == "rejected"

        changes = await _call(client, "request_standard_changes", proposal_id=third, feedback="Name the CA.")
        assert changes["status"] == "changes_requested" and changes["revision_job_id"]
        # the reviewer profile offers wait_for_persona_job, not check_persona_job: name the one it has
        assert f"wait_for_persona_job(job_id='{changes['revision_job_id']}')" in changes["message"]
        assert "check_persona_job" not in changes["message"]
        job = await _call(client, "check_persona_job", job_id=changes["revision_job_id"])
        assert job["persona"] == "security" and job["status"] == "pending"

        assert {p["id"] for p in (await _call(client, "list_standard_proposals"))["proposals"]} == {third}
        done = await _call(client, "list_standard_proposals", status="approved")
        assert [p["id"] for p in done["proposals"]] == [first]

        # errors the model can act on
        assert "No standard proposal with id 'nope'" in await _error(
            client, "get_standard_proposal", proposal_id="nope"
        )
        assert "already approved" in await _error(client, "approve_standard_proposal", proposal_id=first)
        assert "already rejected" in await _error(
            client, "request_standard_changes", proposal_id=second, feedback="again"
        )
        assert await _error(client, "reject_standard_proposal", proposal_id=third, feedback="")
        secret = await _error(
            client,
            "approve_standard_proposal",
            proposal_id=third,
            edits="token: ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
        )
        assert "edits line 1: GitHub token" in secret and "aB3dE5" not in secret


async def test_existing_and_stale_files_are_refused_over_mcp(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(redis_url=redis_url)
    folder = settings.standards_dir / "security"
    folder.mkdir(parents=True)
    (folder / "tls.md").write_text("# TLS\n\nUse TLS 1.2+.\n")
    update = await _seed(settings, topic="tls", title="TLS")
    new = await _seed(settings)
    (folder / "jwt-verification.md").write_text("# Written by hand meanwhile\n")
    (folder / "tls.md").write_text("# TLS\n\nUse TLS 1.3.\n")
    async with Client(build_server(settings, run_worker=False, watch=False)) as client:
        detail = await _call(client, "get_standard_proposal", proposal_id=update)
        assert detail["action"] == "update" and "-Use TLS 1.3.\n" in detail["diff"]
        assert not detail["approvable"] and "changed after this proposal" in detail["blockers"][0]
        refused = await _error(client, "approve_standard_proposal", proposal_id=update)
        assert "changed after this proposal (version 1) was made" in refused
        assert "never overwrites" in await _error(client, "approve_standard_proposal", proposal_id=new)
    assert (folder / "tls.md").read_text() == "# TLS\n\nUse TLS 1.3.\n"
    assert (folder / "jwt-verification.md").read_text() == "# Written by hand meanwhile\n"
