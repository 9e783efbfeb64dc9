"""Dismissed findings: the team's memory of false positives, by finding fingerprint.

:class:`DismissalStore` keeps one row per dismissed fingerprint (who, why, when, which persona, the
finding's title and file) in its own table of the job database (SQLite or Postgres, through the
same :class:`~standards.db.Database` as the job store); all of its SQL is in this class.
Later runs of the persona drop findings with a dismissed fingerprint and are told which patterns
the team dismissed (:func:`dismiss_finding` records them from a finished job's finding).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import Field

from personas.runtime.models import DismissedFinding
from personas.runtime.review import Finding
from standards.db import Database
from standards.db.migrations import Migration
from standards.lazy_model import LazyModel

MAX_REASON_CHARS = 2_000
MAX_LISTED = 500
PER_PERSONA_IN_PROMPT = 40

_TABLE = """
CREATE TABLE IF NOT EXISTS finding_dismissals (
    fingerprint TEXT PRIMARY KEY,
    persona TEXT NOT NULL,
    title TEXT NOT NULL,
    file TEXT,
    reason TEXT NOT NULL,
    dismissed_by TEXT NOT NULL,
    dismissed_at {real} NOT NULL,
    job_id TEXT
);
CREATE INDEX IF NOT EXISTS finding_dismissals_persona ON finding_dismissals (persona, dismissed_at);
"""
MIGRATIONS = [
    Migration(
        1,
        "finding dismissals",
        sqlite=_TABLE.format(real="REAL"),
        postgres=_TABLE.format(real="DOUBLE PRECISION"),
    )
]


class Dismissal(LazyModel):
    fingerprint: str = Field(description="The finding id that is dismissed.")
    persona: str
    title: str
    file: str | None = None
    reason: str
    dismissed_by: str
    dismissed_at: float
    job_id: str | None = None

    def for_run(self) -> DismissedFinding:
        return DismissedFinding(
            id=self.fingerprint, persona=self.persona, title=self.title, file=self.file, reason=self.reason
        )


class DismissResult(LazyModel):
    """Reply of ``dismiss_finding``."""

    fingerprints: list[str] = Field(description="Every fingerprint recorded (a panel finding has one per persona).")
    personas: list[str]
    message: str


class DismissalStore:
    """The ``finding_dismissals`` table. Open it with :meth:`open`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    async def attach(cls, db: Database) -> DismissalStore:
        """The dismissals table in the job database ``db`` (SQLite or Postgres), migrated if needed."""
        await db.migrate("dismissals", MIGRATIONS)
        return cls(db)

    async def record(self, dismissals: Iterable[Dismissal]) -> None:
        """Insert or replace (a re-dismissal updates who, why and when)."""
        await self._db.executemany(
            "INSERT INTO finding_dismissals (fingerprint, persona, title, file, reason, dismissed_by, dismissed_at, "
            "job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(fingerprint) DO UPDATE SET persona=excluded.persona, "
            "title=excluded.title, file=excluded.file, reason=excluded.reason, dismissed_by=excluded.dismissed_by, "
            "dismissed_at=excluded.dismissed_at, job_id=excluded.job_id",
            [
                (d.fingerprint, d.persona, d.title, d.file, d.reason, d.dismissed_by, d.dismissed_at, d.job_id)
                for d in dismissals
            ],
        )

    async def restore(self, fingerprint: str) -> bool:
        """Forget a dismissal: the finding is reported again. False when it was not dismissed."""
        return await self._db.execute("DELETE FROM finding_dismissals WHERE fingerprint=?", (fingerprint,)) > 0

    async def listed(self, *, persona: str | None = None, limit: int = 100) -> list[Dismissal]:
        limit = max(1, min(limit, MAX_LISTED))
        where, params = ("WHERE persona=?", (persona,)) if persona else ("", ())
        rows = await self._db.fetch(
            f"SELECT * FROM finding_dismissals {where} ORDER BY dismissed_at DESC LIMIT ?", (*params, limit)
        )
        return [Dismissal.model_validate(dict(r)) for r in rows]

    async def for_personas(self, personas: Sequence[str]) -> list[DismissedFinding]:
        """The newest dismissals of each persona, as a run takes them."""
        found: list[DismissedFinding] = []
        for persona in dict.fromkeys(personas):
            found += [d.for_run() for d in await self.listed(persona=persona, limit=PER_PERSONA_IN_PROMPT)]
        return found

    async def fingerprints(self, personas: Sequence[str]) -> set[str]:
        """Every dismissed fingerprint of these personas (what a run drops)."""
        if not personas:
            return set()
        marks = ",".join("?" for _ in personas)
        rows = await self._db.fetch(
            f"SELECT fingerprint FROM finding_dismissals WHERE persona IN ({marks})", tuple(personas)
        )
        return {str(r["fingerprint"]) for r in rows}

    async def counts_by_persona(self) -> dict[str, int]:
        rows = await self._db.fetch("SELECT persona, COUNT(*) AS n FROM finding_dismissals GROUP BY persona")
        return {str(r["persona"]): int(r["n"]) for r in rows}


def _find(findings: list[dict[str, Any]], finding_id: str) -> Finding | None:
    for raw in findings:
        finding = Finding.model_validate(raw)
        if finding.id == finding_id or finding_id in finding.related_ids:
            return finding
    return None


def dismissals_of(finding: Finding, *, reason: str, by: str, job_id: str, now: float | None = None) -> list[Dismissal]:
    """One dismissal per fingerprint of ``finding`` (a merged panel finding carries one per persona)."""
    if not finding.id:
        return []
    ids = [finding.id, *finding.related_ids]
    personas = finding.personas or ["unknown"]
    when = time.time() if now is None else now
    return [
        Dismissal(
            fingerprint=fid,
            persona=personas[i] if i < len(personas) else personas[0],
            title=finding.title,
            file=finding.file,
            reason=reason,
            dismissed_by=by,
            dismissed_at=when,
            job_id=job_id,
        )
        for i, fid in enumerate(dict.fromkeys(ids))
    ]


def check_reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise ValueError("reason must not be empty: say why the finding does not apply, so the persona learns from it.")
    if len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"reason is {len(reason):,} characters; keep it under {MAX_REASON_CHARS:,}.")
    return reason


def pick_finding(job_findings: list[dict[str, Any]] | None, job_id: str, finding_id: str) -> Finding:
    finding = _find(job_findings or [], finding_id.strip())
    if finding is None:
        ids = ", ".join(str(f.get("id")) for f in (job_findings or [])[:20] if f.get("id")) or "none"
        raise LookupError(
            f"Job {job_id} has no finding with id {finding_id!r} (its finding ids: {ids}). Use an id from the job's "
            "findings (wait_for_persona_job shows them)."
        )
    return finding


async def dismiss(
    dismissals: DismissalStore,
    job_id: str,
    job_findings: list[dict[str, Any]] | None,
    *,
    finding_id: str,
    reason: str,
    by: str,
) -> DismissResult:
    """Record the dismissal of a finished job's finding; ValueError/LookupError say what to fix."""
    reason = check_reason(reason)
    finding = pick_finding(job_findings, job_id, finding_id)
    records = dismissals_of(finding, reason=reason, by=by.strip() or "unknown", job_id=job_id)
    if not records:
        raise LookupError(f"Finding {finding_id!r} of job {job_id} has no fingerprint (it predates finding ids).")
    await dismissals.record(records)
    personas = list(dict.fromkeys(r.persona for r in records))
    return DismissResult(
        fingerprints=[r.fingerprint for r in records],
        personas=personas,
        message=f"Dismissed '{finding.title}': later runs of {', '.join(personas)} drop it and are told the team "
        "dismissed it. Undo with `personas findings restore <fingerprint>`.",
    )
