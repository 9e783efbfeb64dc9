"""Ops: per-persona trends over 7/30 days as SVG charts, queue and running jobs, index and database health."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from mcp_server.desk import charts
from mcp_server.desk.web import Desk
from worker.dismissals import MAX_LISTED, Dismissal
from worker.trends import TREND_WINDOWS, findings_by_persona, persona_trends, window_start

if TYPE_CHECKING:
    from mcp_server.state import AppState


def _when(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else None


async def page(desk: Desk, request: Request) -> Response:
    raw = request.query_params.get("days", "7")
    if raw not in {str(d) for d in TREND_WINDOWS}:
        raise ValueError(f"days must be one of {', '.join(map(str, TREND_WINDOWS))}")
    days = int(raw)
    state = desk.state
    now = time.time()
    since = window_start(days, now)
    rows = await state.jobs.store.usage_rows()
    raised = await state.jobs.store.finding_counts(since)
    dismissed = [d.persona for d in await _dismissals(state) if d.dismissed_at >= since]
    trends = persona_trends(rows, days=days, now=now, findings=findings_by_persona(raised, dismissed))
    stats = await state.jobs.stats()
    index = state.standards.status()
    return desk.page(
        request,
        "ops.html",
        title="Ops",
        section="ops",
        days=days,
        windows=TREND_WINDOWS,
        trends=trends,
        charts={
            "jobs": charts.jobs_per_day(trends),
            "durations": charts.durations(trends),
            "rates": charts.rates(trends),
            "tokens": charts.tokens(trends),
        },
        stats=stats,
        queue_depth=stats.jobs_by_status.get("pending", 0),
        running=stats.jobs_by_status.get("running", 0),
        index=index,
        index_updated=_when(index.last_updated),
    )


async def _dismissals(state: AppState) -> list[Dismissal]:
    return await state.dismissals.listed(limit=MAX_LISTED) if state.dismissals is not None else []


ROUTES = [("/ops", page, ["GET"])]
