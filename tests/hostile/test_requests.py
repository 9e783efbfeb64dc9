"""Hostile or careless tool arguments: unknown ids, reset without confirm, empty tasks, queries and
feedback, oversized context, absurd limits. Each is refused with an error that says what to do,
and nothing is created, deleted or changed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from standards.curation.store import ProposalStore
from tests.fakes.anthropic_api import FakeAnthropic
from tests.hostile.helpers import refused, unreadable
from tests.reliability.helpers import call, finished, invoke

UNKNOWN_IDS = [
    "nope",
    "00000000-0000-0000-0000-000000000000",
    "../../etc/passwd",
    "' OR '1'='1' --",
    "x" * 5000,
    "   ",
]
DRAFT = {
    "domain": "security",
    "topic": "jwt-verification",
    "title": "Verify JWTs",
    "content": "## Summary\nVerify every JWT's signature, issuer, audience and expiry.\n",
    "rationale": "Seen unverified in api/login.py",
    "proposed_by": "security",
}


@asynccontextmanager
async def queued_server(settings: Settings, jobs: int = 2) -> AsyncIterator[tuple[Client, list[str], str]]:
    """A server without a worker (its jobs stay pending, so any change would show) holding ``jobs``
    queued jobs and one draft proposal."""
    async with ProposalStore.open(settings.proposals_db_path, settings.standards_dir) as store:
        proposal_id = await store.create_draft(**DRAFT)
    async with Client(build_server(settings, run_worker=False)) as client:
        ids = [await invoke(client, f"queued job {i}") for i in range(jobs)]
        yield client, ids, proposal_id


async def _snapshot(client: Client, proposal_id: str) -> dict[str, Any]:
    """What must not change: every job's record, the proposal, the counts."""
    listed = await call(client, "list_persona_jobs", limit=100)
    jobs = {j["job_id"]: await call(client, "check_persona_job", job_id=j["job_id"]) for j in listed["jobs"]}
    for report in jobs.values():
        report.pop("elapsed_seconds", None)  # the clock moves on
        if report.get("progress"):
            report["progress"].pop("eta_seconds", None)
    proposals = await call(client, "list_standard_proposals", status="all")
    return {
        "jobs": jobs,
        "total": listed["total_count"],
        "proposal": await call(client, "get_standard_proposal", proposal_id=proposal_id),
        "proposals": proposals,
    }


async def test_unknown_ids_in_every_id_taking_tool_are_refused_and_change_nothing(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    async with queued_server(make_settings(redis_url=redis_url)) as (client, _, proposal_id):
        before = await _snapshot(client, proposal_id)
        job_errors = []
        proposal_errors = []
        for bad in UNKNOWN_IDS:
            job_errors += [
                await refused(client, "check_persona_job", job_id=bad),
                await refused(client, "wait_for_persona_job", job_id=bad, timeout_seconds=1),
                await refused(client, "cancel_persona_job", job_id=bad),
            ]
            proposal_errors += [
                await refused(client, "get_standard_proposal", proposal_id=bad),
                await refused(client, "approve_standard_proposal", proposal_id=bad, approved_by="mallory"),
                await refused(client, "reject_standard_proposal", proposal_id=bad, feedback="no"),
                await refused(client, "request_standard_changes", proposal_id=bad, feedback="more"),
            ]
            follow_up = await refused(client, "invoke_security", task="continue", follow_up_of=bad)
            assert "follow_up_of: no job with id" in follow_up, follow_up
            resource = await unreadable(client, f"personas://jobs/{quote(bad, safe='')}")
            assert "No job with id" in resource or "Unknown resource" in resource, resource
        after = await _snapshot(client, proposal_id)

    for error in job_errors:
        assert "No job with id" in error and "list_persona_jobs" in error, error
    for error in proposal_errors:
        assert "No standard proposal with id" in error and "list_standard_proposals" in error, error
    assert after == before
    assert before["total"] == 2 and {r["status"] for r in before["jobs"].values()} == {"pending"}


@pytest.mark.parametrize("confirm", [None, False, "false", 0, "no"], ids=repr)
async def test_reset_without_confirm_deletes_and_cancels_nothing(
    make_settings: Callable[..., Settings], redis_url: str, confirm: object
) -> None:
    async with queued_server(make_settings(redis_url=redis_url), jobs=3) as (client, _, proposal_id):
        before = await _snapshot(client, proposal_id)
        error = await refused(client, "reset_persona_jobs", **({} if confirm is None else {"confirm": confirm}))
        after = await _snapshot(client, proposal_id)
        nonsense = await refused(client, "reset_persona_jobs", confirm="maybe")
        stats = await call(client, "persona_database_stats")
    if isinstance(confirm, bool) or confirm is None:
        assert "Nothing was deleted" in error and "confirm=true" in error
    else:  # only the JSON boolean true confirms: "false", 0, "no" are refused as the wrong type
        assert "confirm" in error and "valid boolean" in error
    assert "confirm" in nonsense
    assert after == before and before["total"] == 3
    assert stats["jobs_by_status"]["pending"] == 3 and stats["jobs_by_status"]["cancelled"] == 0


async def test_empty_and_whitespace_tasks_queries_and_feedback(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    blanks = ["", "   ", "\n\t \r\n"]
    async with queued_server(make_settings(redis_url=redis_url), jobs=0) as (client, _, proposal_id):
        before = await _snapshot(client, proposal_id)
        tasks = [await refused(client, f"invoke_{p}", task=blank) for blank in blanks for p in ("security", "qa")]
        queries = [await refused(client, "search_standards", query=blank) for blank in blanks]
        feedback = [
            await refused(client, tool, proposal_id=proposal_id, feedback=blank)
            for blank in blanks
            for tool in ("reject_standard_proposal", "request_standard_changes")
        ]
        edits = await refused(client, "approve_standard_proposal", proposal_id=proposal_id, edits="  \n ")
        after = await _snapshot(client, proposal_id)
    assert all("task must not be empty" in e and "say what the persona should review" in e for e in tasks), tasks
    assert all("query must not be empty" in e for e in queries), queries
    assert all("feedback" in e for e in feedback), feedback
    assert "edits must not be empty" in edits
    assert after == before and before["total"] == 0
    assert before["proposal"]["status"] == "draft"
    assert not (Path(before["proposal"]["path"])).exists()  # nothing was written


async def test_oversized_context_is_refused_before_anything_is_queued(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic, project: Path
) -> None:
    cap = 5_000
    (project / "big.py").write_text("# generated\n" + "value = 1\n" * 800)  # ~8 KB: fits as a path, not inlined
    settings = make_settings(
        redis_url=redis_url,
        anthropic_api_key="sk-test",
        anthropic_base_url=fake_api.base_url,
        max_context_chars=cap,
    )
    async with Client(build_server(settings)) as client:
        over = await refused(client, "invoke_security", task="review", context="x" * (cap - len("review") + 1))
        huge = await refused(client, "invoke_security", task="review " * 100_000)
        after_refusals = (await call(client, "list_persona_jobs"))["total_count"]
        at_cap = await finished(client, await invoke(client, "review", context="y" * (cap - len("review"))))
        inlined = await finished(client, await invoke(client, "review big.py", context="big.py"))
    assert "5,001 characters; the cap is 5,000 (PERSONAS_MAX_CONTEXT_CHARS)" in over, over
    assert "Pass file paths in context instead of file contents" in over
    assert "PERSONAS_MAX_CONTEXT_CHARS" in huge
    assert after_refusals == 0  # refused calls record no job
    assert at_cap["status"] == "complete", at_cap["error"]
    assert inlined["status"] == "failed"
    assert "after inlining the files they name" in inlined["error"] and "5,000" in inlined["error"]
    assert len(fake_api.requests) == 1  # only the job at the cap reached the model


async def test_absurd_limits_and_timeouts_are_refused_or_clamped(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    async with queued_server(make_settings(redis_url=redis_url), jobs=3) as (client, ids, proposal_id):
        before = await _snapshot(client, proposal_id)
        errors = {
            ("search_standards", 0): await refused(client, "search_standards", query="logging", limit=0),
            ("search_standards", -1): await refused(client, "search_standards", query="logging", limit=-1),
            ("search_standards", 10_000): await refused(client, "search_standards", query="logging", limit=10_000),
            ("list_persona_jobs", 0): await refused(client, "list_persona_jobs", limit=0),
            ("list_persona_jobs", 10_000): await refused(client, "list_persona_jobs", limit=10_000),
            ("list_standard_proposals", 0): await refused(client, "list_standard_proposals", limit=0),
            ("list_standard_proposals", 10_000): await refused(client, "list_standard_proposals", limit=10_000),
        }
        waits = {
            seconds: await refused(client, "wait_for_persona_job", job_id=ids[0], timeout_seconds=seconds)
            for seconds in (9999, -5, 1e308)  # 0 is a valid check
        }
        priority = await refused(client, "invoke_security", task="review", priority="urgent")
        query = "a " * 100_000  # 200 KB of query: answered (truncated), not an error
        long_query = await call(client, "search_standards", query=query, limit=20)
        clamped_low = json.loads((await client.read_resource("personas://jobs?limit=0")).contents[0].text)  # type: ignore[union-attr]
        clamped_high = json.loads((await client.read_resource("personas://jobs?limit=10000")).contents[0].text)  # type: ignore[union-attr]
        not_a_number = await unreadable(client, "personas://jobs?limit=lots")
        after = await _snapshot(client, proposal_id)

    for (tool, limit), error in errors.items():
        assert "limit" in error and ("greater than or equal to 1" in error or "less than or equal to" in error), (
            tool,
            limit,
            error,
        )
    for seconds, error in waits.items():
        assert "timeout_seconds" in error, (seconds, error)
        assert "less than or equal to 50" in error or "greater than or equal to 0" in error, (seconds, error)
    assert "'low', 'normal' or 'high'" in priority
    assert len(long_query["query"]) <= 2000
    assert len(clamped_low["jobs"]) == 1 and clamped_low["total_count"] == 3
    assert len(clamped_high["jobs"]) == 3
    assert "Bad jobs query: limit must be a whole number (1-100), got 'lots'" in not_a_number
    assert "int()" not in not_a_number
    assert after == before  # nothing was queued, waited away or changed


async def test_wrong_argument_types_are_explained_in_one_line_per_argument(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    """pydantic's text (model names, error types, a link per error) is not what a user or a model
    needs: each bad argument is named with its value and what it should be."""
    async with Client(build_server(make_settings(redis_url=redis_url), run_worker=False, watch=False)) as client:
        limit = await refused(client, "search_standards", query="logging", limit=100_000)
        several = await refused(client, "invoke_panel", personas=["security"], task="x", priority="urgent")
        missing = await refused(client, "search_standards")
        confirm = await refused(client, "reset_persona_jobs", confirm="true")
    assert limit.endswith("invalid argument: limit=100000: Input should be less than or equal to 20."), limit
    assert "personas=['security']: List should have at least 2 items" in several
    assert "; priority='urgent': Input should be 'low', 'normal' or 'high'" in several
    assert missing.endswith("invalid argument: query: Field required."), missing
    assert "confirm='true': Input should be a valid boolean" in confirm
    for error in (limit, several, missing, confirm):
        assert "\n" not in error and "errors.pydantic.dev" not in error and "[type=" not in error, error
        assert "validation error for" not in error, error


async def test_a_search_with_a_huge_tag_list_is_refused_before_any_work(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    """Tags were de-duplicated in a list (quadratic) on the event loop: 400,000 tags (3 MB, under the
    HTTP body cap) held every client of the server for minutes. Now at most 20, checked first."""
    async with Client(build_server(make_settings(redis_url=redis_url), run_worker=False, watch=False)) as client:
        many = await refused(client, "search_standards", query="logging", tags=[f"t{i}" for i in range(30_000)])
        fine = await client.call_tool("search_standards", {"query": "logging", "tags": ["security"] * 20})
    assert "tags takes at most 20 tags" in many and "got 30,000" in many, many
    assert not fine.is_error, fine
