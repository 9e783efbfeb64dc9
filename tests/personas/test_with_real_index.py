"""A run and a briefing against the real IndexWriter (LanceDB in tmp_path, hashing embedder)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from personas.model import PersonaDefinition
from personas.runtime import LLMConfig, RunRequest, RunToolbox, run_persona
from standards import HashingEmbedder, IndexConfig, IndexWriter, StandardsSource, universal_standards_dir
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.personas.helpers import Progress, submit, tool_results


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[IndexWriter]:
    config = IndexConfig(
        sources=[StandardsSource(root=universal_standards_dir(), kind="universal")],
        index_dir=tmp_path / "index",
    )
    opened = IndexWriter(config, HashingEmbedder())
    await opened.start(watch=False)
    status = await opened.wait_ready(30)
    assert status.state == "ready", status
    yield opened
    await opened.stop()


async def test_search_tool_and_briefing_use_the_real_index(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, tree: Path, index: IndexWriter
) -> None:
    toolbox = RunToolbox(project_root=tree, search=index)
    fake_api.add(
        fake.tool_use("search_standards", {"query": "secrets in environment variables", "domain": "security"}),
        submit(),
    )

    await run_persona(security, RunRequest(job_id="j", task="Review secrets"), llm, Progress(), toolbox)
    (result,) = tool_results(fake_api.requests[1])
    assert "ref: security/" in result["content"]
    assert "is_error" not in result

    briefing = await run_persona(
        security,
        RunRequest(job_id="j", task="How should we store API secrets?"),
        LLMConfig(),
        Progress(),
        toolbox,
    )
    assert briefing.mode == "briefing"
    assert "### 1. `" in briefing.result
    assert "### 5. `" in briefing.result
