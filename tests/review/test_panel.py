"""Panels: concurrent sub-runs merged into one report; one failing persona does not lose the others;
cancelling the panel stops every sub-run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from personas.registry import PersonaRegistry
from personas.report.merge import merge_findings
from personas.runtime.review import Finding
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.review.gitrepo import write
from worker.errors import JobRequestError
from worker.models import JobReport, JobStatus

EVAL = "def login(user, password):\n    data = load(user)\n    return eval(data)\n"


def raised(severity: str, title: str, location: str, refs: list[str] | None = None) -> dict[str, Any]:
    return {
        "severity": severity,
        "title": title,
        "detail": "Evidence.",
        "location": location,
        "standard_refs": refs or [],
        "recommendation": "Fix.",
    }


def by_persona(replies: dict[str, Callable[[], fake.Reply]]) -> Callable[[dict[str, Any]], fake.Reply]:
    """A fake API answering each request according to the persona whose system prompt it carries."""
    registry = PersonaRegistry.load()
    prompts = {pid: registry.get(pid).system_prompt.strip()[:200] for pid in replies}

    def reply(request: dict[str, Any]) -> fake.Reply:
        system = request["system"] if isinstance(request["system"], str) else str(request["system"])
        for pid, prompt in prompts.items():
            if prompt in system:
                return replies[pid]()
        raise AssertionError("a request from an unexpected persona")

    return reply


async def test_a_panel_of_three_with_one_failing_still_merges_the_others(
    repo: Path, review_stack: Callable[..., Any], fake_api: FakeAnthropic
) -> None:
    write(repo, {"app.py": EVAL})
    fake_api.default = by_persona(
        {
            "security": lambda: fake.tool_use(
                "submit_review",
                {
                    "summary": "Security: one critical issue.",
                    "findings": [
                        raised("critical", "eval of user input", "app.py:3", ["security/input.md#The rule"]),
                        raised("low", "Weak naming of data", "app.py:2"),
                    ],
                },
            ),
            "qa": lambda: fake.tool_use(
                "submit_review",
                {
                    "summary": "QA: untested eval path.",
                    "findings": [
                        raised("high", "Eval of user input is untested", "app.py:3"),
                        raised("medium", "No test for login", "tests/"),
                    ],
                },
            ),
            "sre": lambda: fake.error(400, "invalid_request_error", "the SRE persona's request was refused"),
        }
    )
    async with review_stack(repo) as stack:
        started = await stack.service.submit_panel(["security", "qa", "sre"], "review the change", changes="working")
        job = await stack.finished(started.job_id)

    assert job.status is JobStatus.COMPLETE, job.error
    assert job.persona == "panel" and job.panel == ["security", "qa", "sre"]
    runs = {r["persona"]: r for r in job.panel_runs or []}
    assert (runs["security"]["status"], runs["qa"]["status"], runs["sre"]["status"]) == (
        "complete",
        "complete",
        "failed",
    )
    assert "refused" in runs["sre"]["error"]
    findings = [Finding.model_validate(f) for f in job.findings or []]
    assert [f.severity for f in findings] == ["critical", "medium", "low"]  # merged, ordered by severity
    merged = findings[0]
    assert merged.personas == ["security", "qa"] and len(merged.related_ids) == 1
    assert merged.file == "app.py" and merged.line == 3 and merged.in_change is True
    report = JobReport.from_state(job)
    assert report.panel is not None and len(report.panel) == 3
    assert report.result is not None
    assert "Security: one critical issue." in report.result and "QA: untested eval path." in report.result
    assert "**Raised by:** security, qa" in report.result
    assert "failed: Claude API error 400" in report.result


async def test_cancelling_a_panel_stops_every_sub_run(
    repo: Path, review_stack: Callable[..., Any], fake_api: FakeAnthropic
) -> None:
    fake_api.default = lambda _req: fake.Reply(delay=60, body=None)

    async with review_stack(repo) as stack:
        started = await stack.service.submit_panel(["security", "qa", "sre"], "review", changes="working")

        async def all_asked() -> bool:
            return len(fake_api.requests) >= 3

        from tests.conftest import wait_for

        await wait_for(all_asked, what="all three sub-runs to call the API")
        result = await stack.service.cancel(started.job_id, confirm_seconds=10)
        job = await stack.store.get(started.job_id)

    assert result.cancelled and "not confirmed" not in result.message  # the worker let go: all sub-runs ended
    assert job is not None and job.status is JobStatus.CANCELLED and job.lease_expires_at is None
    assert len(fake_api.requests) == 3


async def test_panel_requests_are_checked(repo: Path, review_stack: Callable[..., Any]) -> None:
    async with review_stack(repo) as stack:
        with pytest.raises(JobRequestError, match="needs 2 to 6 different personas"):
            await stack.service.submit_panel(["security", "security"], "review")
        with pytest.raises(JobRequestError, match="nobody"):
            await stack.service.submit_panel(["security", "nobody"], "review")


def test_merging_matches_place_and_issue() -> None:
    def f(persona: str, title: str, file: str | None, line: int | None, refs: list[str] | None = None) -> Finding:
        return Finding(
            severity="medium",
            title=title,
            detail="d",
            recommendation="r",
            file=file,
            line=line,
            standard_refs=refs or [],
            id=f"{persona}-{title}",
            personas=[persona],
        )

    merged = merge_findings(
        [
            f("security", "SQL injection in search", "db.py", 10),
            f("qa", "SQL injection in the search query", "db.py", 12),  # near, similar title → same
            f("sre", "Unbounded query", "db.py", 11, ["ops/limits.md#The rule"]),  # near, other issue
            f("qa", "Pool size", "db.py", 80, ["ops/limits.md#The rule"]),  # same standard, far away
            f("engineer", "SQL injection in search", "api.py", 10),  # same title, other file
        ]
    )
    assert len(merged) == 4
    first = next(m for m in merged if m.title == "SQL injection in search" and m.file == "db.py")
    assert first.personas == ["security", "qa"] and first.related_ids == ["qa-SQL injection in the search query"]
