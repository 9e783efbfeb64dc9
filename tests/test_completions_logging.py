"""completion/complete and MCP logging through the SDK client against the real server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from mcp.types import LoggingMessageNotificationParams, PromptReference, ResourceTemplateReference

from mcp_server.server import build_server
from mcp_server.settings import Settings
from standards.curation.store import ProposalStore
from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.proposals.conftest import DRAFT

TOPIC = "personas://standards/{source}/{domain}/{topic}"


async def _values(client: Client, ref: Any, name: str, value: str, **context: str) -> list[str]:
    result = await client.complete(ref, {"name": name, "value": value}, context_arguments=context or None)
    return result.completion.values


async def test_completions_for_prompts_and_resource_templates(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(redis_url=redis_url)
    async with ProposalStore.open(settings.proposals_db_path, settings.standards_dir) as store:
        proposal_id = await store.create_draft(**DRAFT)
    async with Client(build_server(settings, run_worker=False, watch=False)) as client:
        assert client.server_capabilities.completions is not None
        started = await client.call_tool("invoke_security", {"task": "review app.py"})
        job_id = (started.structured_content or {})["job_id"]

        async def indexed() -> bool:
            return "security" in await _values(client, ResourceTemplateReference(uri=TOPIC), "domain", "")

        await wait_for(indexed, timeout=60, what="the universal standards to be indexed")
        starters = await _values(client, PromptReference(name="security"), "request", "")
        sources = await _values(client, ResourceTemplateReference(uri=TOPIC), "source", "u")
        domains = await _values(client, ResourceTemplateReference(uri=TOPIC), "domain", "SEC", source="universal")
        topics = await _values(
            client, ResourceTemplateReference(uri=TOPIC), "topic", "secr", source="universal", domain="security"
        )
        jobs = await _values(client, ResourceTemplateReference(uri="personas://jobs/{job_id}"), "job_id", job_id[:4])
        other = await _values(client, ResourceTemplateReference(uri="personas://jobs/{job_id}"), "job_id", "zzzz")
        jobs_list = ResourceTemplateReference(uri="personas://jobs{?status,persona,limit}")
        personas = await _values(client, jobs_list, "persona", "s")
        proposals = await _values(
            client, ResourceTemplateReference(uri="personas://proposals/{proposal_id}"), "proposal_id", proposal_id[:3]
        )
        unknown = await _values(client, PromptReference(name="nobody"), "request", "")
        proposal = await client.read_resource(f"personas://proposals/{proposal_id}")

    assert starters and all(isinstance(s, str) for s in starters)
    assert sources == ["universal"]
    assert domains == ["security"]
    assert "secrets-management" in topics and all(t.startswith("secr") for t in topics)
    assert jobs == [job_id]
    assert other == []
    assert personas == ["security", "sre"]
    assert proposals == [proposal_id]
    assert unknown == []
    assert proposal_id in proposal.contents[0].text  # type: ignore[union-attr]


def _messages(received: list[LoggingMessageNotificationParams]) -> list[tuple[str, str]]:
    return [(m.level, m.data["event"]) for m in received if m.logger == "agent-personas.jobs"]


@pytest.mark.filterwarnings("ignore:The logging capability is deprecated")
async def test_job_lifecycle_is_logged_to_the_session_that_started_it(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    fake_api.add(fake.text("Finding: plaintext password comparison in app.py:2."))
    received: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        received.append(params)

    settings = make_settings(redis_url=redis_url, anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url)
    async with Client(build_server(settings, watch=False), mode="legacy", logging_callback=on_log) as client:
        assert client.server_capabilities.logging is not None
        await client.set_logging_level("info")
        started = await client.call_tool("invoke_security", {"task": "review app.py"})
        job_id = (started.structured_content or {})["job_id"]

        async def finished() -> bool:
            return ("info", "job.complete") in _messages(received)

        await wait_for(finished, timeout=30, what="the job.complete log message")
    events = _messages(received)
    assert events[-1] == ("info", "job.complete")
    assert ("info", "job.running") in events
    assert events.index(("info", "job.running")) < events.index(("info", "job.complete"))
    assert all(level == "info" for level, _ in events)  # progress (debug) is below the level set
    assert all(m.data["job_id"] == job_id for m in received if m.logger == "agent-personas.jobs")


@pytest.mark.filterwarnings("ignore:The logging capability is deprecated")
async def test_set_level_filters_what_the_session_receives(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    fake_api.add(fake.error(400, "invalid_request_error", "bad request"))
    received: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        received.append(params)

    settings = make_settings(redis_url=redis_url, anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url)
    async with Client(build_server(settings, watch=False), mode="legacy", logging_callback=on_log) as client:
        await client.set_logging_level("error")
        await client.call_tool("invoke_security", {"task": "review app.py"})

        async def failed() -> bool:
            return bool(_messages(received))

        await wait_for(failed, timeout=30, what="the job.failed log message")
        report = await client.call_tool("list_persona_jobs", {})
    assert _messages(received) == [("error", "job.failed")]
    assert (report.structured_content or {})["jobs"][0]["status"] == "failed"
