"""Proposed standards awaiting human approval, in the system of record (SQLite, or PostgreSQL with
PERSONAS_DATABASE_URL): the ProposalSink of persona runs.

A persona's ``propose_standard`` call lands here as a *draft*. There is at most one open proposal
(``draft`` or ``changes_requested``) per ``domain/topic``: proposing the same topic again revises
it in place (``version`` + 1, back to ``draft``) and returns its id, so a revision run refines its
own proposal instead of piling up duplicates.

States: ``draft`` → ``approved`` | ``rejected`` | ``changes_requested``; ``changes_requested`` →
``draft`` (the next version) | ``approved`` | ``rejected``. Approved and rejected proposals are
final: every write is guarded in SQL (``WHERE status IN open``), and a trigger refuses any change
to a decided row, whoever issues it (on both backends; the schema is the versioned ``MIGRATIONS``).

When the store knows the standards folder, each version records the standard it would replace
(``base_hash`` / ``base_content``, NULL for a new file): the diff base of an update, and what lets
approval refuse to overwrite a file that changed since. Proposed text is secret-scanned here.
One concern (the proposals' records and their guarded writes), a little over 400 lines.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from standards.control_chars import check_no_controls
from standards.curation.models import ApprovalTarget, ProposalStatus
from standards.curation.publish import (
    MAX_DOMAIN_CHARS,
    MAX_TOPIC_CHARS,
    SLUG,
    StandardWriteError,
    check_slug,
    content_hash,
    read_existing,
    standard_path,
)
from standards.curation.secrets import ScanTarget, check_no_secrets
from standards.db import Database, Migration, Row, open_database
from standards.frontmatter import split as split_front_matter

OPEN_STATUSES: tuple[ProposalStatus, ...] = ("draft", "changes_requested")
DECIDED_STATUSES: tuple[ProposalStatus, ...] = ("approved", "rejected")

__all__ = [
    "DECIDED_STATUSES",
    "MAX_CONTENT_CHARS",
    "MAX_DOMAIN_CHARS",
    "MAX_TOPIC_CHARS",
    "OPEN_STATUSES",
    "SLUG",
    "ApprovalTarget",
    "Proposal",
    "ProposalStatus",
    "ProposalStore",
]

MAX_TITLE_CHARS = 200
MAX_CONTENT_CHARS = 50_000
MAX_RATIONALE_CHARS = 5_000
MAX_FEEDBACK_CHARS = 5_000
#: Approvals one :meth:`ProposalStore.approved_standards` call returns at most.
MAX_APPROVED_LISTED = 500

_OPEN_SQL = "('draft','changes_requested')"
_ALL_SQL = "('draft','changes_requested','approved','rejected')"

_TABLE = """
CREATE TABLE IF NOT EXISTS proposals (
    id TEXT PRIMARY KEY,
    domain TEXT NOT NULL,
    topic TEXT NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    rationale TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    job_id TEXT,
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN {statuses}),
    feedback TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_at {real} NOT NULL,
    updated_at {real} NOT NULL,
    base_hash TEXT,
    base_content TEXT,
    revision_job_id TEXT,
    approved_by TEXT,
    file_path TEXT,
    edited INTEGER NOT NULL DEFAULT 0,
    decided_at {real}
);
"""
"""The proposals table; ``{real}`` is the backend's float type."""

_SQLITE_V1 = (
    _TABLE.format(real="REAL", statuses=_ALL_SQL)
    + f"""\
CREATE INDEX IF NOT EXISTS proposals_status ON proposals (status, updated_at);
DROP INDEX IF EXISTS proposals_open_draft;
CREATE UNIQUE INDEX IF NOT EXISTS proposals_open_topic ON proposals (domain, topic) WHERE status IN {_OPEN_SQL};
CREATE TRIGGER IF NOT EXISTS proposals_decided_are_final BEFORE UPDATE ON proposals
WHEN OLD.status IN ('approved','rejected')
BEGIN SELECT RAISE(ABORT, 'proposal is approved or rejected; decided proposals cannot change'); END;
CREATE TRIGGER IF NOT EXISTS proposals_status_valid BEFORE UPDATE OF status ON proposals
WHEN NEW.status NOT IN {_ALL_SQL}
BEGIN SELECT RAISE(ABORT, 'invalid proposal status'); END;
"""
)

_POSTGRES_V1 = (
    _TABLE.format(real="DOUBLE PRECISION", statuses=_ALL_SQL)
    + f"""\
CREATE INDEX IF NOT EXISTS proposals_status ON proposals (status, updated_at);
CREATE UNIQUE INDEX IF NOT EXISTS proposals_open_topic ON proposals (domain, topic) WHERE status IN {_OPEN_SQL};
CREATE OR REPLACE FUNCTION proposals_decided_are_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('approved','rejected') THEN
        RAISE EXCEPTION 'proposal is approved or rejected; decided proposals cannot change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER proposals_decided_are_final BEFORE UPDATE ON proposals
FOR EACH ROW EXECUTE FUNCTION proposals_decided_are_final();
"""
)

_V2 = "ALTER TABLE proposals ADD COLUMN target TEXT;\n"
"""Which standards folder an approval wrote to ('project' or 'shared'); NULL for earlier approvals
(project ones: 'shared' approvals came later)."""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "proposals; one open proposal per topic; decided proposals final", _SQLITE_V1, _POSTGRES_V1),
    Migration(2, "the standards folder an approval wrote to", _V2, _V2),
)

# Columns added after the first release: SQLite databases written by it get them on open.
_ADDED_COLUMNS: dict[str, str] = {
    "base_hash": "TEXT",  # sha256 of the standard this version would replace; NULL = a new file
    "base_content": "TEXT",
    "revision_job_id": "TEXT",  # the job queued by the last request for changes
    "approved_by": "TEXT",
    "file_path": "TEXT",  # the file written on approval
    "edited": "INTEGER NOT NULL DEFAULT 0",  # the approver replaced the content
    "decided_at": "REAL",
}

_UPSERT = f"""
INSERT INTO proposals (id, domain, topic, title, content, rationale, proposed_by, job_id, status, version,
                       created_at, updated_at, base_hash, base_content)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'draft', 1, ?, ?, ?, ?)
ON CONFLICT (domain, topic) WHERE status IN {_OPEN_SQL} DO UPDATE SET
    title = excluded.title, content = excluded.content, rationale = excluded.rationale,
    proposed_by = excluded.proposed_by, job_id = excluded.job_id, version = proposals.version + 1,
    status = 'draft', base_hash = excluded.base_hash, base_content = excluded.base_content,
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
    base_hash: str | None = None
    base_content: str | None = None
    revision_job_id: str | None = None
    approved_by: str | None = None
    file_path: str | None = None
    edited: bool = False
    decided_at: float | None = None
    target: ApprovalTarget | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_update(self) -> bool:
        """It replaces an existing standard (one that existed when this version was proposed)."""
        return self.base_hash is not None


def check_text(field: str, value: str, max_chars: int) -> None:
    if not value.strip():
        raise ValueError(f"{field} must not be empty")
    if len(value) > max_chars:
        raise ValueError(f"{field} is {len(value):,} characters; the limit is {max_chars:,}")
    check_no_controls(field, value)


class ProposalStore:
    """Typed access to the ``proposals`` table. Open it with :meth:`open`."""

    def __init__(self, db: Database, standards_dir: Path | None = None) -> None:
        self.db = db
        self.path = db.path
        """The SQLite file; None on Postgres."""
        self.standards_dir = standards_dir

    @classmethod
    @asynccontextmanager
    async def open(cls, target: Path | str, standards_dir: Path | None = None) -> AsyncIterator[ProposalStore]:
        """Open (and create or migrate) the database. With ``standards_dir``, drafts record the
        standard they would replace, so approval can show a diff and refuse stale updates."""
        async with open_database(target) as db:
            await db.migrate("proposals", MIGRATIONS)
            if db.dialect == "sqlite":  # a file of an early release: its table may lack later columns
                await db.add_missing_columns("proposals", _ADDED_COLUMNS)
            yield cls(db, standards_dir)

    async def _write(self, sql: str, params: Iterable[Any] = ()) -> int:
        return await self.db.execute(sql, tuple(params))

    # ---- drafts ---------------------------------------------------------------------------

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
        """Store a draft (or revise the open proposal of the same domain/topic); returns its id.

        Raises ValueError naming the invalid field, or listing the lines that look like secrets."""
        check_slug("domain", domain, MAX_DOMAIN_CHARS)
        check_slug("topic", topic, MAX_TOPIC_CHARS)
        check_text("title", title, MAX_TITLE_CHARS)
        check_text("content", content, MAX_CONTENT_CHARS)
        check_text("rationale", rationale, MAX_RATIONALE_CHARS)
        check_text("proposed_by", proposed_by, MAX_DOMAIN_CHARS)
        await asyncio.to_thread(
            check_no_secrets,
            ScanTarget("title", title),
            ScanTarget("content", content),
            ScanTarget("rationale", rationale),
        )
        await asyncio.to_thread(split_front_matter, content)  # front matter in the content, if any, must be valid YAML
        base_hash, base_content = await asyncio.to_thread(self._base, domain, topic)
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
            base_hash,
            base_content,
        )
        rows = await self.db.fetch(_UPSERT, params)
        row = next(iter(rows), None)
        assert row is not None, "INSERT ... RETURNING gave no row"
        return str(row["id"])

    def _base(self, domain: str, topic: str) -> tuple[str | None, str | None]:
        """(sha256, text) of the standard this draft would replace, (None, None) for a new one.
        An unsafe or unreadable target records no base: approval then refuses to write."""
        if self.standards_dir is None:
            return None, None
        try:
            data = read_existing(standard_path(self.standards_dir, domain, topic))
        except (StandardWriteError, OSError):
            return None, None
        if data is None:
            return None, None
        return content_hash(data), data.decode("utf-8", errors="replace")

    # ---- transitions (each one conditional statement; False when the proposal moved on) -------

    async def request_changes(self, proposal_id: str, *, feedback: str, version: int) -> bool:
        return (
            await self._write(
                f"UPDATE proposals SET status='changes_requested', feedback=?, updated_at=? "
                f"WHERE id=? AND version=? AND status IN {_OPEN_SQL}",
                (feedback, time.time(), proposal_id, version),
            )
            > 0
        )

    async def set_revision_job(self, proposal_id: str, job_id: str) -> bool:
        return (
            await self._write(
                f"UPDATE proposals SET revision_job_id=? WHERE id=? AND status IN {_OPEN_SQL}",
                (job_id, proposal_id),
            )
            > 0
        )

    async def reopen(self, proposal_id: str, *, version: int) -> bool:
        """Undo a request for changes whose revision job could not be queued."""
        return (
            await self._write(
                "UPDATE proposals SET status='draft', updated_at=? "
                "WHERE id=? AND version=? AND status='changes_requested'",
                (time.time(), proposal_id, version),
            )
            > 0
        )

    async def reject(self, proposal_id: str, *, feedback: str) -> bool:
        now = time.time()
        return (
            await self._write(
                f"UPDATE proposals SET status='rejected', feedback=?, updated_at=?, decided_at=? "
                f"WHERE id=? AND status IN {_OPEN_SQL}",
                (feedback, now, now, proposal_id),
            )
            > 0
        )

    async def mark_approved(
        self,
        proposal_id: str,
        *,
        version: int,
        approved_by: str,
        file_path: str,
        content: str,
        edited: bool,
        target: ApprovalTarget = "project",
    ) -> bool:
        """Approve exactly the version the approver saw; False if it was revised or decided meanwhile."""
        now = time.time()
        return (
            await self._write(
                f"UPDATE proposals SET status='approved', approved_by=?, file_path=?, content=?, edited=?, "
                f"target=?, updated_at=?, decided_at=? WHERE id=? AND version=? AND status IN {_OPEN_SQL}",
                (approved_by, file_path, content, int(edited), target, now, now, proposal_id, version),
            )
            > 0
        )

    # ---- reads ----------------------------------------------------------------------------

    async def get(self, proposal_id: str) -> Proposal | None:
        rows = await self.db.fetch("SELECT * FROM proposals WHERE id = ?", (proposal_id,))
        return next((_from_row(row) for row in rows), None)

    async def approved_standards(self, *, since: float, files: list[str] | None = None) -> list[Proposal]:
        """The newest approval of each standard (per target folder and ``domain/topic``) decided at or
        after ``since`` (a time.time()), newest first, at most :data:`MAX_APPROVED_LISTED`; with
        ``files`` (``domain/topic.md``) only those. What a host that cannot read the written files yet
        serves instead (:func:`~standards.curation.views.approved_text` rebuilds each file's text)."""
        clauses = ["status = 'approved'", "decided_at >= ?"]
        params: list[object] = [since]
        if files is not None:
            wanted = [pair for pair in map(_domain_topic, files[:MAX_APPROVED_LISTED]) if pair is not None]
            if not wanted:
                return []
            clauses.append("(" + " OR ".join("(domain = ? AND topic = ?)" for _ in wanted) + ")")
            params += [part for pair in wanted for part in pair]
        query = f"SELECT * FROM proposals WHERE {' AND '.join(clauses)} ORDER BY decided_at DESC, id LIMIT ?"
        newest: dict[tuple[str, str, str], Proposal] = {}
        for row in await self.db.fetch(query, (*params, MAX_APPROVED_LISTED)):
            p = _from_row(row)
            newest.setdefault((p.target or "project", p.domain, p.topic), p)
        return list(newest.values())

    async def list(
        self,
        *,
        status: ProposalStatus | None = None,
        statuses: tuple[ProposalStatus, ...] | None = None,
        domain: str | None = None,
        limit: int = 100,
    ) -> list[Proposal]:
        """Proposals, newest change first, optionally filtered by status(es) and domain."""
        clauses: list[str] = []
        params: list[object] = []
        wanted = (status,) if status is not None else statuses
        if wanted:
            clauses.append(f"status IN ({','.join('?' for _ in wanted)})")
            params.extend(wanted)
        if domain is not None:
            clauses.append("domain = ?")
            params.append(domain)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT * FROM proposals {where} ORDER BY updated_at DESC, id LIMIT ?"
        rows = await self.db.fetch(query, (*params, max(1, min(limit, 1000))))
        return [_from_row(row) for row in rows]

    async def status_counts(self) -> dict[str, int]:
        counts = {s: 0 for s in ("draft", "changes_requested", "approved", "rejected")}
        for row in await self.db.fetch("SELECT status, COUNT(*) AS n FROM proposals GROUP BY status"):
            counts[str(row["status"])] = int(row["n"])
        return counts


def _domain_topic(file: str) -> tuple[str, str] | None:
    """('security', 'jwt') of 'security/jwt.md'; None for anything an approval cannot have written."""
    domain, slash, name = file.partition("/")
    topic = name.removesuffix(".md")
    if not slash or topic == name or not SLUG.fullmatch(domain) or not SLUG.fullmatch(topic):
        return None
    return domain, topic


def _from_row(row: Row) -> Proposal:
    return Proposal.model_validate(dict(row))
