"""Fixtures for the approval flow: a standards folder, a proposal store that knows it, a service
with a recording revision queue and re-indexer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from standards.curation.service import ProposalService
from standards.curation.store import ProposalStore

CONTENT = """## Summary
Verify every JWT's signature, issuer, audience and expiry before trusting a claim.

## The rule
1. Call `jwt.decode` with the issuer's JWKS key, `audience` and `issuer` set.
2. Read the signing key from `$JWKS_URL`; never embed keys.
"""

DRAFT: dict[str, Any] = {
    "domain": "security",
    "topic": "jwt-verification",
    "title": "Verify JWTs",
    "content": CONTENT,
    "rationale": "Seen unverified in api/login.py and api/admin.py",
    "proposed_by": "security",
    "job_id": "job-1",
}


@dataclass
class Queued:
    job_id: str


@dataclass
class RecordingQueue:
    """Stands in for JobService.submit; ``fail`` makes the next submit raise it."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    fail: Exception | None = None

    async def submit(self, persona_id: str, task: str, context: str | None = None, priority: str = "normal") -> Queued:
        if self.fail is not None:
            raise self.fail
        self.calls.append({"persona": persona_id, "task": task, "context": context, "priority": priority})
        return Queued(job_id=f"job-rev-{len(self.calls)}")


@dataclass
class RecordingReindex:
    paths: list[Path] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, paths: list[Path]) -> None:
        if self.fail:
            raise RuntimeError("index unavailable")
        self.paths.extend(paths)


@pytest.fixture
def standards_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "project" / ".agent-os" / "standards"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
async def store(tmp_path: Path, standards_dir: Path) -> AsyncIterator[ProposalStore]:
    async with ProposalStore.open(tmp_path / "data" / "proposals.sqlite3", standards_dir) as opened:
        yield opened


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def reindex() -> RecordingReindex:
    return RecordingReindex()


@pytest.fixture
def service(
    store: ProposalStore, standards_dir: Path, queue: RecordingQueue, reindex: RecordingReindex
) -> ProposalService:
    return ProposalService(store, standards_dir, revisions=queue, reindex=reindex)
