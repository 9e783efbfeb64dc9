"""Proposed standards awaiting human approval, in SQLite (aiosqlite): the ProposalSink of persona runs.

A persona's ``propose_standard`` call lands here as a *draft*. There is at most one open draft per
``domain/topic``: proposing the same topic again revises that draft in place (``version`` + 1) and
returns its id, so a follow-up run refines its own proposal instead of piling up duplicates.
Approval, rejection and secret scanning come with the approval flow.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

import aiosqlite
from pydantic import BaseModel

ProposalStatus = Literal["draft", "approved", "rejected"]

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_DOMAIN_CHARS = 40
MAX_TOPIC_CHARS = 80
MAX_TITLE_CHARS = 200
MAX_CONTENT_CHARS = 50_000
MAX_RATIONALE_CHARS = 5_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS proposals (
    id TEXT PRIMARY KEY,
    domain TEXT NOT NULL,
    topic TEXT NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    rationale TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    job_id TEXT,
    status TEXT NOT NULL DEFAULT 'draft',
    feedback TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS proposals_open_draft ON proposals (domain, topic) WHERE status = 'draft';
CREATE INDEX IF NOT EXISTS proposals_status ON proposals (status, updated_at);
"""

_UPSERT = """
INSERT INTO proposals (id, domain, topic, title, content, rationale, proposed_by, job_id, status, version,
                       created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'draft', 1, ?, ?)
ON CONFLICT (domain, topic) WHERE status = 'draft' DO UPDATE SET
    title = excluded.title, content = excluded.content, rationale = excluded.rationale,
    proposed_by = excluded.proposed_by, job_id = excluded.job_id, version = version + 1,
    updated_at = excluded.updated_at
RETURNING id
"""


class Proposal(BaseModel):
    """A proposed standard; becomes ``<standards_dir>/<domain>/<topic>.md`` once approved."""

    id: str
    domain: str
    topic: str
    title: str
    content: str
    rationale: str
    proposed_by: str
    job_id: str | None
    status: ProposalStatus
    feedback: str | None
    version: int
    created_at: float
    updated_at: float


def _check_slug(field: str, value: str, max_chars: int) -> None:
    if not SLUG.fullmatch(value) or len(value) > max_chars:
        raise ValueError(
            f"{field} {value!r} must be a lowercase kebab-case slug of at most {max_chars} characters, "
            "e.g. 'jwt-validation'"
        )


def _check_text(field: str, value: str, max_chars: int) -> None:
    if not value.strip():
        raise ValueError(f"{field} must not be empty")
    if len(value) > max_chars:
        raise ValueError(f"{field} is {len(value):,} characters; the limit is {max_chars:,}")


class ProposalStore:
    """Typed access to the ``proposals`` table. Open it with :meth:`open`."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[ProposalStore]:
        path.parent.mkdir(parents=True, exist_ok=True)
        async with aiosqlite.connect(path, timeout=10.0) as db:
            db.row_factory = aiosqlite.Row
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA busy_timeout=10000")
            await db.executescript(_SCHEMA)
            await db.commit()
            yield cls(db, path)

    async def create_draft(
        self,
        *,
        domain: str,
        topic: str,
        title: str,
        content: str,
        rationale: str,
        proposed_by: str,
        job_id: str | None = None,
    ) -> str:
        """Store a draft (or revise the open draft of the same domain/topic); returns its id.

        Raises ValueError naming the invalid field."""
        _check_slug("domain", domain, MAX_DOMAIN_CHARS)
        _check_slug("topic", topic, MAX_TOPIC_CHARS)
        _check_text("title", title, MAX_TITLE_CHARS)
        _check_text("content", content, MAX_CONTENT_CHARS)
        _check_text("rationale", rationale, MAX_RATIONALE_CHARS)
        _check_text("proposed_by", proposed_by, MAX_DOMAIN_CHARS)
        now = time.time()
        params = (
            str(uuid.uuid4()),
            domain,
            topic,
            title.strip(),
            content,
            rationale,
            proposed_by,
            job_id,
            now,
            now,
        )
        async with self._db.execute(_UPSERT, params) as cursor:
            row = await cursor.fetchone()
        await self._db.commit()
        assert row is not None, "INSERT ... RETURNING gave no row"
        return str(row[0])

    async def get(self, proposal_id: str) -> Proposal | None:
        async with self._db.execute("SELECT * FROM proposals WHERE id = ?", (proposal_id,)) as cursor:
            row = await cursor.fetchone()
        return Proposal.model_validate(dict(row)) if row is not None else None

    async def list(
        self, *, status: ProposalStatus | None = None, domain: str | None = None, limit: int = 100
    ) -> list[Proposal]:
        """Proposals, newest change first, optionally filtered by status and domain."""
        clauses: list[str] = []
        params: list[object] = []
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if domain is not None:
            clauses.append("domain = ?")
            params.append(domain)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT * FROM proposals {where} ORDER BY updated_at DESC, id LIMIT ?"
        async with self._db.execute(query, (*params, max(1, min(limit, 1000)))) as cursor:
            rows = await cursor.fetchall()
        return [Proposal.model_validate(dict(row)) for row in rows]
