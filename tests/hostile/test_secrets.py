"""A model that proposes a standard holding secrets, end to end: invoke → the fake model calls
propose_standard → the tool_result tells it the proposal was refused, with line numbers and kinds
but never the values → nothing is stored and nothing is written; the run goes on and completes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.personas.helpers import call, calls
from tests.reliability.helpers import call as call_tool
from tests.reliability.helpers import finished, invoke

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8vT3aB9c"
DB_URL = "postgres://admin:Sup3rS3cretPw@db.internal:5432/app"
GITHUB = "ghp_" + "R7q2Lm9XvB4nT8kW1zY5cH3jD6fG0sA2pE7u"
CONTENT = f"""## Summary
Connect to the database with the service account.

## Examples
DATABASE_URL={DB_URL}
aws_secret_access_key = {AWS_SECRET}
"""


async def test_proposed_secrets_are_refused_to_the_model_and_nothing_is_stored(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic, project: Path
) -> None:
    in_content = call(
        "propose_standard",
        {
            "domain": "security",
            "topic": "database-access",
            "title": "Database access",
            "content": CONTENT,
            "rationale": "Seen in app.py:1",
        },
    )
    in_rationale = call(
        "propose_standard",
        {
            "domain": "security",
            "topic": "ci-tokens",
            "title": "CI tokens",
            "content": "## Summary\nRead tokens from ${GITHUB_TOKEN}.\n",
            "rationale": f"The pipeline uses\ntoken: {GITHUB}\nin ci.yml",
        },
    )
    seen: dict[str, dict[str, Any]] = {}

    def submit(request: dict[str, Any]) -> fake.Reply:
        content = request["messages"][-1]["content"]
        seen.update({b["tool_use_id"]: b for b in content if b.get("type") == "tool_result"})
        return fake.tool_use("submit_review", {"summary": "Verdict: proposals refused.", "proposed_standards": []})

    fake_api.add(calls(in_content, in_rationale), submit)
    settings = make_settings(redis_url=redis_url, anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url)
    async with Client(build_server(settings)) as client:
        report = await finished(client, await invoke(client, "review how app.py reaches the database"))
        proposals = await call_tool(client, "list_standard_proposals", status="all")

    assert report["status"] == "complete", report
    assert not report.get("proposed_standards")
    content_result, rationale_result = seen[in_content["id"]], seen[in_rationale["id"]]
    for result in (content_result, rationale_result):
        assert result.get("is_error") is True
        assert "The proposal was refused" in result["content"] and "secrets" in result["content"]
        assert "placeholder" in result["content"]  # says what to do instead
    assert "content line 5" in content_result["content"] and "content line 6" in content_result["content"]
    assert "rationale line 2" in rationale_result["content"]
    # The refusal never echoes a value back (the model already had them; nothing more leaks).
    results = json.dumps([content_result, rationale_result])
    assert AWS_SECRET not in results and "Sup3rS3cretPw" not in results and GITHUB not in results
    assert proposals["proposals"] == [] and not any(proposals["counts"].values())
    assert not (settings.standards_dir / "security").exists()  # nothing written
