"""Change reviews through the job system: the diff opens the conversation, files are read at the
range's head, findings are located, fingerprinted and filtered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from personas.runtime.findings import finalize
from personas.runtime.review import Finding
from personas.runtime.sandbox import FileText
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.review.gitrepo import commit, git, write
from worker.errors import JobRequestError
from worker.models import JobReport, JobStatus

FEATURE = "def login(user, password):\n    data = load(user)\n    return eval(data)\n"


def finding(severity: str, title: str, location: str, refs: list[str] | None = None) -> dict[str, Any]:
    return {
        "severity": severity,
        "title": title,
        "detail": "Evidence and impact.",
        "location": location,
        "standard_refs": refs or [],
        "recommendation": "Fix it.",
    }


def submit(*findings: dict[str, Any]) -> fake.Reply:
    return fake.tool_use("submit_review", {"summary": "Reviewed.", "findings": list(findings)})


def tool_results(request: dict[str, Any]) -> list[str]:
    return [
        str(block.get("content"))
        for message in request["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]


async def test_range_review_sees_the_diff_first_and_reads_the_head_not_the_working_tree(
    repo: Path, review_stack: Callable[..., Any], fake_api: FakeAnthropic
) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, {"app.py": FEATURE})
    commit(repo, "feature")
    write(repo, {"app.py": "WORKTREE_ONLY = True\n"})  # an unrelated uncommitted edit
    fake_api.add(
        fake.tool_use("read_file", {"path": "app.py"}),
        submit(finding("high", "eval of user data", "app.py:3"), finding("low", "Naming", "app.py:1")),
    )
    async with review_stack(repo) as stack:
        job_id = (await stack.service.submit("security", "review the branch", changes="main...feature")).job_id
        job = await stack.finished(job_id)

    assert job.status is JobStatus.COMPLETE, job.error
    first = fake_api.requests[0]["messages"][0]["content"]
    first_text = first if isinstance(first, str) else " ".join(b.get("text", "") for b in first)
    assert "# Change under review" in first_text
    assert "+    return eval(data)" in first_text
    assert "- app.py: modified, changed lines 2-3" in first_text
    (read,) = tool_results(fake_api.requests[1])
    assert "eval(data)" in read and "WORKTREE_ONLY" not in read
    high, low = (Finding.model_validate(f) for f in job.findings or [])
    assert (high.file, high.line, high.in_change) == ("app.py", 3, True)
    assert (low.file, low.line, low.in_change) == ("app.py", 1, False)
    assert high.id and len(high.id) == 20 and high.id != low.id
    assert job.changes is not None and job.changes["spec"] == "main...feature"


async def test_min_severity_and_cited_only_filter_the_report_not_the_job(
    repo: Path, review_stack: Callable[..., Any], fake_api: FakeAnthropic
) -> None:
    write(repo, {"app.py": FEATURE})
    fake_api.add(
        submit(
            finding("high", "eval of user data", "app.py:3", ["security/input.md#The rule"]),
            finding("high", "Uncited worry", "app.py:2"),
            finding("low", "Naming", "app.py:1", ["development/naming.md#The rule"]),
        )
    )
    async with review_stack(repo) as stack:
        job_id = (
            await stack.service.submit("security", "review", changes="working", min_severity="medium", cited_only=True)
        ).job_id
        job = await stack.finished(job_id)

    assert job.status is JobStatus.COMPLETE, job.error
    assert len(job.findings or []) == 3
    report = JobReport.from_state(job)
    assert [f.title for f in report.findings or []] == ["eval of user data"]
    assert report.hidden_findings == 2
    assert report.changes == "working"
    assert report.result is not None and "Naming" not in report.result and "2 more finding(s)" in report.result


async def test_staged_review_reads_the_index(
    repo: Path, review_stack: Callable[..., Any], fake_api: FakeAnthropic
) -> None:
    write(repo, {"app.py": FEATURE})
    git(repo, "add", "app.py")
    write(repo, {"app.py": "UNSTAGED = 1\n"})
    fake_api.add(fake.tool_use("read_file", {"path": "app.py"}), submit())
    async with review_stack(repo) as stack:
        job = await stack.finished((await stack.service.submit("qa", "review", changes="staged")).job_id)

    assert job.status is JobStatus.COMPLETE, job.error
    (read,) = tool_results(fake_api.requests[1])
    assert "eval(data)" in read and "UNSTAGED" not in read


async def test_bad_changes_are_refused_at_submit(repo: Path, review_stack: Callable[..., Any], tmp_path: Path) -> None:
    async with review_stack(repo) as stack:
        with pytest.raises(JobRequestError, match="'nope' is not a commit"):
            await stack.service.submit("security", "review", changes="nope..HEAD")
        with pytest.raises(JobRequestError, match="not a valid git revision"):
            await stack.service.submit("security", "review", changes="--output=/tmp/x")
        with pytest.raises(JobRequestError, match="min_severity must be one of"):
            await stack.service.submit("security", "review", min_severity="urgent")
        assert await stack.store.count() == 0
    plain = tmp_path / "plain"
    plain.mkdir()
    async with review_stack(plain) as stack:
        with pytest.raises(JobRequestError, match="not inside a git work tree"):
            await stack.service.submit("security", "review", changes="working")


class Version:
    def __init__(self, text: str) -> None:
        self.text = text

    def read_text(self, raw: str) -> FileText:
        return FileText(path=raw, text=self.text, size=len(self.text))


def test_a_finding_id_survives_lines_inserted_above_it() -> None:
    before = Version("import os\n\ndef f(x):\n    return eval(x)\n")
    after = Version("import os\nimport sys\n\n\n# comment\ndef f(x):\n    return  eval(x)\n")
    raised = Finding.model_validate(finding("high", "eval of input (line 4)", "app.py:4"))
    moved = Finding.model_validate(finding("high", "Eval of input (line 7)", "app.py:7"))
    other = Finding.model_validate(finding("high", "eval of input (line 4)", "app.py:1"))

    (first,) = finalize([raised], "security", None, before)
    (second,) = finalize([moved], "security", None, after)
    (elsewhere,) = finalize([other], "security", None, before)
    (by_qa,) = finalize([raised], "qa", None, before)

    assert first.id == second.id
    assert elsewhere.id != first.id and by_qa.id != first.id
