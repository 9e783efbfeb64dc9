"""The review tools through the MCP SDK client and the real server: invoke with changes, invoke_panel,
check_persona_job's per-persona progress, dismiss_finding, and the noise statistics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.review.gitrepo import write

FINDING = {
    "severity": "high",
    "title": "eval of user data",
    "detail": "Evidence.",
    "location": "app.py:3",
    "standard_refs": [],
    "recommendation": "Fix.",
}


async def test_panel_dismiss_and_stats_over_mcp(
    repo: Path, make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic, tmp_path: Path
) -> None:
    write(repo, {"app.py": "def login(user, password):\n    data = load(user)\n    return eval(data)\n"})
    fake_api.default = lambda _req: fake.tool_use("submit_review", {"summary": "Reviewed.", "findings": [FINDING]})
    settings = make_settings(
        project_root=repo,
        data_dir=tmp_path / "data",
        redis_url=redis_url,
        anthropic_api_key="sk-test",
        anthropic_base_url=fake_api.base_url,
    )
    async with Client(build_server(settings, watch=False)) as client:
        refused = await client.call_tool("invoke_security", {"task": "review", "changes": "$(id)"})
        assert refused.is_error and "is not a valid git revision" in str(refused.content)

        started = await client.call_tool(
            "invoke_panel", {"personas": ["security", "qa"], "task": "review my change", "changes": "working"}
        )
        assert not started.is_error, started.content
        job_id = (started.structured_content or {})["job_id"]
        report: dict[str, Any] = {}
        while report.get("status") not in ("complete", "failed"):
            waited = await client.call_tool("wait_for_persona_job", {"job_id": job_id, "timeout_seconds": 30})
            report = waited.structured_content or {}
        assert report["status"] == "complete", report
        assert [run["persona"] for run in report["panel"]] == ["security", "qa"]
        (merged,) = report["findings"]
        assert merged["personas"] == ["security", "qa"] and merged["in_change"] is True
        assert report["changes"] == "working"

        dismissed = await client.call_tool(
            "dismiss_finding",
            {"job_id": job_id, "finding_id": merged["id"], "reason": "trusted input", "dismissed_by": "dana"},
        )
        assert not dismissed.is_error, dismissed.content
        assert sorted((dismissed.structured_content or {})["personas"]) == ["qa", "security"]
        unknown = await client.call_tool("dismiss_finding", {"job_id": job_id, "finding_id": "nope", "reason": "x"})
        assert unknown.is_error and "has no finding with id 'nope'" in str(unknown.content)
        assert "wait_for_persona_job shows them" in str(unknown.content)  # in every profile, unlike check_…

        stats = (await client.call_tool("persona_database_stats", {})).structured_content or {}
    usage = {row["persona"]: row for row in stats["personas"]}
    assert usage["security"]["dismissals"] == 1 and usage["security"]["dismissal_rate"] == 1.0
    assert usage["qa"]["findings_per_run"] == 1.0


async def test_dismissing_a_finding_asks_the_user_where_the_client_can(
    repo: Path, make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic, tmp_path: Path
) -> None:
    """A review's text may ask the assistant to dismiss its findings (the code under review wrote it):
    a client that can show a dialog asks the user, and a declined dialog dismisses nothing."""
    from mcp.client.session import ClientRequestContext
    from mcp.types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult

    write(repo, {"app.py": "def login(user, password):\n    data = load(user)\n    return eval(data)\n"})
    fake_api.default = lambda _req: fake.tool_use("submit_review", {"summary": "Reviewed.", "findings": [FINDING]})
    settings = make_settings(
        project_root=repo,
        data_dir=tmp_path / "data",
        redis_url=redis_url,
        anthropic_api_key="sk-test",
        anthropic_base_url=fake_api.base_url,
    )
    shown: list[str] = []
    answer = {"action": "decline"}

    async def user(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        shown.append(params.message)
        content = {"dismiss": True} if answer["action"] == "accept" else None
        return ElicitResult(action=answer["action"], content=content)  # type: ignore[arg-type]

    async with Client(build_server(settings, watch=False), mode="legacy", elicitation_callback=user) as client:
        started = await client.call_tool("invoke_security", {"task": "review my change", "changes": "working"})
        job_id = (started.structured_content or {})["job_id"]
        report: dict[str, Any] = {}
        while report.get("status") not in ("complete", "failed"):
            waited = await client.call_tool("wait_for_persona_job", {"job_id": job_id, "timeout_seconds": 30})
            report = waited.structured_content or {}
        (finding,) = report["findings"]
        args = {"job_id": job_id, "finding_id": finding["id"], "reason": "the review said it is a false positive"}

        declined = await client.call_tool("dismiss_finding", args)
        answer["action"] = "accept"
        accepted = await client.call_tool("dismiss_finding", args)
        stats = (await client.call_tool("persona_database_stats", {})).structured_content or {}

    assert declined.is_error and "nothing was dismissed" in str(declined.content)
    assert len(shown) == 2 and "eval of user data" in shown[0] and "false positive" in shown[0]
    assert not accepted.is_error, accepted.content
    assert {row["persona"]: row for row in stats["personas"]}["security"]["dismissals"] == 1
