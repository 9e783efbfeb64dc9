"""Per-persona trends over the last N days (pure functions over the store's usage rows).

The desk's ops page charts these; ``persona_database_stats`` keeps its own all-time summary.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, Field

from worker.ops import percentile

TREND_WINDOWS = (7, 30)


class PersonaTrend(BaseModel):
    """One persona over a window of whole UTC days, oldest day first."""

    persona: str
    days: list[str] = Field(description="UTC dates (YYYY-MM-DD), oldest first.")
    jobs_per_day: list[int]
    jobs: int
    failed: int
    failure_rate: float | None = Field(description="failed / (complete + failed); None before any finished.")
    p50_duration_seconds: float | None
    p95_duration_seconds: float | None
    tokens_input: int
    tokens_output: int
    dismissed: int = 0
    findings: int = 0
    dismissal_rate: float | None = Field(default=None, description="Dismissed findings / findings raised.")


def window_start(days: int, now: float) -> float:
    """Unix time of 00:00 UTC on the first day of a ``days``-day window ending today."""
    first = window_days(days, now)[0]
    return dt.datetime.fromisoformat(first).replace(tzinfo=dt.UTC).timestamp()


def findings_by_persona(raised: list[tuple[str, int]], dismissed_personas: list[str]) -> dict[str, tuple[int, int]]:
    """(findings raised, findings dismissed) per persona, from per-run counts and one persona per dismissal."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for persona, count in raised:
        totals[persona][0] += count
    for persona in dismissed_personas:
        totals[persona][1] += 1
    return {p: (r, d) for p, (r, d) in totals.items()}


def window_days(days: int, now: float) -> list[str]:
    today = dt.datetime.fromtimestamp(now, tz=dt.UTC).date()
    return [(today - dt.timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


def persona_trends(
    rows: list[dict[str, Any]],
    *,
    days: int,
    now: float,
    findings: dict[str, tuple[int, int]] | None = None,
) -> list[PersonaTrend]:
    """Trends per persona from rows with persona, status, created_at, duration_seconds and tokens.

    ``findings`` maps a persona to (findings raised, findings dismissed) in the window, when known.
    """
    labels = window_days(days, now)
    first = window_start(days, now)
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["created_at"] >= first:
            grouped[row["persona"]].append(row)
    trends: list[PersonaTrend] = []
    for persona in sorted(set(grouped) | set(findings or {})):
        mine = grouped.get(persona, [])
        per_day = dict.fromkeys(labels, 0)
        for row in mine:
            day = dt.datetime.fromtimestamp(row["created_at"], tz=dt.UTC).date().isoformat()
            if day in per_day:
                per_day[day] += 1
        complete = sum(1 for r in mine if r["status"] == "complete")
        failed = sum(1 for r in mine if r["status"] == "failed")
        durations = [float(r["duration_seconds"]) for r in mine if r.get("duration_seconds") is not None]
        raised, dismissed = (findings or {}).get(persona, (0, 0))
        trends.append(
            PersonaTrend(
                persona=persona,
                days=labels,
                jobs_per_day=[per_day[d] for d in labels],
                jobs=len(mine),
                failed=failed,
                failure_rate=round(failed / (complete + failed), 3) if complete + failed else None,
                p50_duration_seconds=percentile(durations, 50),
                p95_duration_seconds=percentile(durations, 95),
                tokens_input=sum(int(r.get("tokens_input") or 0) for r in mine),
                tokens_output=sum(int(r.get("tokens_output") or 0) for r in mine),
                findings=raised,
                dismissed=dismissed,
                dismissal_rate=round(min(1.0, dismissed / raised), 3) if raised else None,
            )
        )
    return trends
