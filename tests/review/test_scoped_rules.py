"""A diff review is guided by the rules for the changed files (issue 15): the run passes the changed
files to search_standards as ``paths``, against a real index over the repo's rule files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from standards import HashingEmbedder, IndexConfig, IndexWriter, StandardsSource
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.review.gitrepo import commit, git, write
from tests.review.test_review_runs import submit, tool_results
from worker.models import JobStatus

API_MDC = """---
description: API handler rules
globs: api/**
alwaysApply: false
---
# API handlers

## Errors

Handlers return problem+json error bodies and never leak exception text to clients.
"""
BILLING_AGENTS = """# Billing

## Errors

Billing errors are retried three times and then parked for a human; never leak exception text.
"""


async def test_changed_files_pull_in_the_scoped_rule(
    repo: Path, review_stack: Callable[..., Any], fake_api: FakeAnthropic, tmp_path: Path
) -> None:
    write(repo, {".cursor/rules/api.mdc": API_MDC, "billing/AGENTS.md": BILLING_AGENTS, "api/users.py": "x = 1\n"})
    commit(repo, "rules")
    git(repo, "checkout", "-q", "-b", "feature")
    write(
        repo,
        {
            "api/users.py": "def get(req):\n    try:\n        return load(req)\n    except Exception as e:\n"
            "        return str(e)\n"
        },
    )
    commit(repo, "leak errors")
    index = IndexWriter(
        IndexConfig(sources=[StandardsSource(root=repo, kind="rules")], index_dir=tmp_path / "index"),
        HashingEmbedder(),
    )
    await index.start(watch=False)
    try:
        assert (await index.wait_ready(timeout=30)).state == "ready"
        fake_api.add(fake.tool_use("search_standards", {"query": "error bodies leak exception text"}), submit())
        async with review_stack(repo) as stack:
            stack.deps.toolbox.search = index
            job_id = (await stack.service.submit("security", "review the branch", changes="main...feature")).job_id
            job = await stack.finished(job_id)
            # the model may still narrow a search itself: then its paths win
            fake_api.add(
                fake.tool_use(
                    "search_standards", {"query": "error bodies leak exception text", "paths": ["billing/x.py"]}
                ),
                submit(),
            )
            narrowed_id = (await stack.service.submit("security", "review billing", changes="main...feature")).job_id
            narrowed = await stack.finished(narrowed_id)
    finally:
        await index.stop()

    assert job.status is JobStatus.COMPLETE, job.error
    (result,) = tool_results(fake_api.requests[1])
    assert "[1] ref: .cursor/rules/api.mdc#Errors" in result
    assert "governs api/**" in result
    assert "billing/AGENTS.md" not in result  # scoped to another folder
    assert narrowed.status is JobStatus.COMPLETE, narrowed.error
    (other,) = tool_results(fake_api.requests[3])
    assert "[1] ref: billing/AGENTS.md#Errors" in other and "api.mdc" not in other
