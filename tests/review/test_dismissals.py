"""Dismissed findings: recorded with who/why/when, dropped from later runs even after lines shift,
listed to the persona, restorable, and counted per persona in the stats."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcp_server.cli_parser import build_parser
from mcp_server.findings_cli import findings_command
from mcp_server.settings import Settings
from personas.runtime.review import Finding
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.review.gitrepo import write
from worker.dismissals import dismiss
from worker.models import JobStatus

CODE = "def login(user, password):\n    data = load(user)\n    return eval(data)\n"
SHIFTED = "import os\nimport sys\n\n# new helper above\n\n" + CODE.replace("return eval", "return  eval")


def found(title: str, location: str, severity: str = "high") -> dict[str, Any]:
    return {
        "severity": severity,
        "title": title,
        "detail": "Evidence.",
        "location": location,
        "standard_refs": [],
        "recommendation": "Fix.",
    }


def first_text(request: dict[str, Any]) -> str:
    content = request["messages"][0]["content"]
    return content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)


async def test_a_dismissed_finding_does_not_come_back_after_lines_are_inserted_above_it(
    repo: Path, review_stack: Callable[..., Any], fake_api: FakeAnthropic
) -> None:
    write(repo, {"app.py": CODE})
    fake_api.add(
        fake.tool_use("submit_review", {"summary": "One.", "findings": [found("eval of user data", "app.py:3")]})
    )
    async with review_stack(repo) as stack:
        first = await stack.finished((await stack.service.submit("security", "review", changes="working")).job_id)
        (raised,) = [Finding.model_validate(f) for f in first.findings or []]
        assert raised.id is not None
        result = await dismiss(
            stack.dismissals,
            first.id,
            first.findings,
            finding_id=raised.id,
            reason="data is trusted config",
            by="alice",
        )
        assert result.fingerprints == [raised.id] and result.personas == ["security"]

        write(repo, {"app.py": SHIFTED})  # five lines inserted above: the finding is now at line 8
        fake_api.add(
            fake.tool_use(
                "submit_review",
                {
                    "summary": "Two.",
                    "findings": [found("Eval of user data", "app.py:8"), found("Unused import", "app.py:1", "low")],
                },
            )
        )
        second = await stack.finished((await stack.service.submit("security", "review", changes="working")).job_id)
        (listed,) = await stack.dismissals.listed()

    assert second.status is JobStatus.COMPLETE, second.error
    assert [f["title"] for f in second.findings or []] == ["Unused import"]
    assert "eval" not in (second.result or "").lower()
    told = first_text(fake_api.requests[-1])
    assert "# Findings the team has dismissed" in told and "data is trusted config" in told
    assert (listed.persona, listed.dismissed_by, listed.job_id) == ("security", "alice", first.id)


async def test_dismissing_a_merged_panel_finding_covers_every_persona(
    repo: Path, review_stack: Callable[..., Any], fake_api: FakeAnthropic
) -> None:
    write(repo, {"app.py": CODE})
    fake_api.default = lambda _req: fake.tool_use(
        "submit_review", {"summary": "s", "findings": [found("eval of user data", "app.py:3")]}
    )
    async with review_stack(repo) as stack:
        started = await stack.service.submit_panel(["security", "qa"], "review", changes="working")
        job = await stack.finished(started.job_id)
        (merged,) = [Finding.model_validate(f) for f in job.findings or []]
        assert merged.id is not None
        result = await dismiss(stack.dismissals, job.id, job.findings, finding_id=merged.id, reason="ok", by="bob")
        stats = await stack.service.stats()
        with pytest.raises(LookupError, match="has no finding with id 'nope'"):
            await dismiss(stack.dismissals, job.id, job.findings, finding_id="nope", reason="x", by="bob")
        with pytest.raises(ValueError, match="reason must not be empty"):
            await dismiss(stack.dismissals, job.id, job.findings, finding_id=merged.id, reason="  ", by="bob")

    assert sorted(result.personas) == ["qa", "security"] and len(result.fingerprints) == 2
    usage = {u.persona: u for u in stats.personas}
    assert usage["panel"].jobs == 1
    for persona in ("security", "qa"):
        assert usage[persona].findings_per_run == 1.0
        assert usage[persona].dismissals == 1 and usage[persona].dismissal_rate == 1.0


async def test_findings_cli_dismisses_lists_and_restores(
    repo: Path,
    review_stack: Callable[..., Any],
    fake_api: FakeAnthropic,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    write(repo, {"app.py": CODE})
    fake_api.add(
        fake.tool_use("submit_review", {"summary": "One.", "findings": [found("eval of user data", "app.py:3")]})
    )
    async with review_stack(repo) as stack:
        job = await stack.finished((await stack.service.submit("security", "review")).job_id)
    finding_id = str((job.findings or [])[0]["id"])
    settings = make_settings(project_root=repo, data_dir=tmp_path / "data")

    async def cli(*argv: str) -> tuple[int, str, str]:
        args: argparse.Namespace = build_parser().parse_args(["findings", *argv])
        out, err = io.StringIO(), io.StringIO()
        return await findings_command(settings, args, out, err), out.getvalue(), err.getvalue()

    code, out, _ = await cli("dismiss", job.id, finding_id, "--reason", "accepted risk", "--by", "carol")
    assert code == 0 and "Dismissed 'eval of user data'" in out
    code, out, _ = await cli("list", "--json")
    (row,) = json.loads(out)
    assert (row["fingerprint"], row["dismissed_by"], row["reason"]) == (finding_id, "carol", "accepted risk")
    code, out, _ = await cli("restore", finding_id)
    assert code == 0 and "Restored" in out
    code, out, _ = await cli("list")
    assert out == "No dismissed findings.\n"
    code, _, err = await cli("restore", finding_id)
    assert code == 2 and "is not dismissed" in err
    code, _, err = await cli("dismiss", "no-such-job", finding_id, "--reason", "x")
    assert code == 2 and "no job with id" in err
