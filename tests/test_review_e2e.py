"""A full review through the real stack: MCP client → server → Redis → arq worker → tool-use loop
(search_standards over the real index, read_file in the project sandbox) → structured findings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic

FINDING = {
    "severity": "high",
    "title": "Password compared in plain text",
    "detail": "login() compares the raw password, so passwords are stored unhashed.",
    "location": "app.py:2",
    "standard_refs": ["security/authentication-and-sessions.md#The rule"],
    "recommendation": "Hash with Argon2id and compare with the library's verify().",
}


async def test_security_review_searches_reads_and_submits_findings(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    tool_results: list[Any] = []

    def submit(request: dict[str, Any]) -> fake.Reply:
        tool_results.extend(
            block
            for message in request["messages"]
            if message["role"] == "user" and isinstance(message["content"], list)
            for block in message["content"]
            if block.get("type") == "tool_result"
        )
        return fake.tool_use(
            "submit_review",
            {
                "summary": "**Fix before merge**: one high finding.",
                "findings": [FINDING],
                "proposed_standards": [],
            },
        )

    fake_api.add(
        fake.tool_use("search_standards", {"query": "password hashing", "domain": "security"}),
        fake.tool_use("read_file", {"path": "app.py"}),
        fake.tool_use("read_file", {"path": "../../etc/passwd"}),
        submit,
    )
    settings = make_settings(redis_url=redis_url, anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url)
    async with Client(build_server(settings)) as client:

        async def index_ready() -> bool:
            body = (await client.call_tool("search_standards", {"query": "password"})).structured_content
            return bool(body and body["status"]["state"] == "ready")

        await wait_for(index_ready, timeout=60, what="the standards index")
        started = await client.call_tool("invoke_security", {"task": "review the login", "context": "app.py"})
        job_id = (started.structured_content or {})["job_id"]

        async def done() -> dict[str, Any] | None:
            report = (await client.call_tool("check_persona_job", {"job_id": job_id})).structured_content
            return report if report and report["status"] in ("complete", "failed") else None

        report = await wait_for(done, timeout=60, what="the review")

    assert report["status"] == "complete", report
    assert report["findings"][0]["title"] == FINDING["title"]
    assert report["findings"][0]["standard_refs"] == FINDING["standard_refs"]
    assert report["findings"][0]["id"]  # a server-set field, in the output schema the client validated against
    assert "Password compared in plain text" in report["result"]
    assert report["tool_calls_made"] >= 3
    assert report["tokens_used"]["input"] == 4 * 120
    search_result, read_result, escape_result = (str(r["content"]) for r in tool_results[:3])
    assert "security/" in search_result
    assert "def login" in read_result
    assert tool_results[2].get("is_error") is True and "def login" not in escape_result


async def test_follow_up_continues_the_same_conversation(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    fake_api.add(fake.text("First review: login() needs hashing."), fake.text("Revised: also add rate limiting."))
    settings = make_settings(redis_url=redis_url, anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url)
    async with Client(build_server(settings)) as client:

        async def run(args: dict[str, Any], tool: str = "invoke_security") -> dict[str, Any]:
            started = await client.call_tool(tool, args)
            assert not started.is_error, started.content
            job_id = (started.structured_content or {})["job_id"]

            async def done() -> dict[str, Any] | None:
                report = (await client.call_tool("check_persona_job", {"job_id": job_id})).structured_content
                return report if report and report["status"] in ("complete", "failed") else None

            return await wait_for(done, timeout=60, what="the run")

        first = await run({"task": "review the login", "context": "app.py"})
        second = await run({"task": "yes, but also cover brute force", "follow_up_of": first["job_id"]})
        wrong_persona = await client.call_tool("invoke_qa", {"task": "more", "follow_up_of": first["job_id"]})
        unknown = await client.call_tool("invoke_security", {"task": "more", "follow_up_of": "nope"})

    assert first["status"] == "complete" and second["status"] == "complete"
    assert "Revised: also add rate limiting." in second["result"]
    sent = fake_api.requests[-1]["messages"]
    flat = str(sent)
    assert "review the login" in flat and "First review: login() needs hashing." in flat
    assert "yes, but also cover brute force" in str(sent[-1])
    assert wrong_persona.is_error and "invoke_security" in wrong_persona.content[0].text  # type: ignore[union-attr]
    assert unknown.is_error and "no job with id 'nope'" in unknown.content[0].text  # type: ignore[union-attr]
