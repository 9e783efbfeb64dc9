"""Reviews: the jobs list with filters, one job (summary, findings by severity), live progress, cancel."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from mcp_server.desk.web import Desk, form
from personas.runtime.review import Finding
from worker.dismissals import dismiss

SEVERITIES = ("critical", "high", "medium", "low", "info")
STATUSES = ("pending", "running", "complete", "failed", "cancelled")
LIST_LIMIT = 100


def _choice(request: Request, name: str, allowed: tuple[str, ...] | None = None) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and allowed is not None and value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}")
    return value


async def list_page(desk: Desk, request: Request) -> Response:
    persona = _choice(request, "persona", tuple(desk.state.personas.ids()))
    status = _choice(request, "status", STATUSES)
    since = _choice(request, "since")
    if since is not None:
        try:
            dt.date.fromisoformat(since)
        except ValueError:
            raise ValueError(f"since must be a date like 2026-11-01, not {since!r}") from None
    listing = await desk.state.jobs.list_jobs(status=status, persona=persona, limit=LIST_LIMIT)
    jobs = [j for j in listing.jobs if since is None or j.created_at[:10] >= since]
    return desk.page(
        request,
        "reviews.html",
        title="Reviews",
        section="reviews",
        jobs=jobs,
        personas=sorted(desk.state.personas.ids()),
        statuses=STATUSES,
        chosen={"persona": persona, "status": status, "since": since},
        total=listing.total_count,
    )


def group_findings(findings: list[Finding] | None) -> list[tuple[str, list[Finding]]]:
    """Findings grouped by severity, most severe first; unknown severities last."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings or []:
        groups.setdefault(finding.severity, []).append(finding)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(groups.items(), key=lambda kv: order.get(kv[0], len(order)))


def citation(ref: str) -> tuple[str, str | None]:
    """'security/x.md#The rule' → ('security/x.md', 'The rule')."""
    file, _, heading = ref.partition("#")
    return file.strip(), heading.strip() or None


async def detail_page(desk: Desk, request: Request, notice: str | None = None) -> Response:
    state = desk.state
    report = await state.jobs.check(request.path_params["job_id"])
    personas = sorted({report.persona, *(p for f in report.findings or [] for p in (f.personas or []))})
    dismissed = await state.dismissals.fingerprints(personas) if state.dismissals is not None else set()
    return desk.page(
        request,
        "review.html",
        title=f"{report.persona} review",
        section="reviews",
        job=report,
        groups=group_findings(report.findings),
        citation=citation,
        active=report.status in ("pending", "running"),
        dismissed=dismissed,
        can_dismiss=state.dismissals is not None and report.status == "complete",
        dismisser=desk.remembered_name(request),
        notice=notice,
    )


async def dismiss_finding(desk: Desk, request: Request) -> Response:
    """The same record as the dismiss_finding tool: later runs drop the finding."""
    state = desk.state
    if state.dismissals is None:
        raise ValueError("dismissals are unavailable in this server")
    values = await form(request)
    by = values.get("dismissed_by", "").strip()
    if not by:
        raise ValueError("say who dismisses it: fill in 'Dismissed by'")
    job = await state.jobs.get(request.path_params["job_id"])
    result = await dismiss(
        state.dismissals,
        job.id,
        job.findings,
        finding_id=request.path_params["finding_id"],
        reason=values.get("reason", ""),
        by=by,
    )
    response = await detail_page(desk, request, notice=result.message)
    desk.remember_name(response, by)
    return response


async def progress(desk: Desk, request: Request) -> Response:
    report = await desk.state.jobs.check(request.path_params["job_id"])
    p = report.progress
    return JSONResponse(
        {
            "status": report.status.value,
            "phase": p.phase if p else None,
            "percent": p.percent_complete if p else (100 if report.status == "complete" else 0),
            "message": p.message if p else report.next_step,
        }
    )


async def cancel(desk: Desk, request: Request) -> Response:
    await form(request)
    job_id = request.path_params["job_id"]
    await desk.state.jobs.cancel(job_id)
    return RedirectResponse(desk.url(f"/reviews/{job_id}"), status_code=303)


ROUTES = [
    ("/reviews", list_page, ["GET"]),
    ("/reviews/{job_id}", detail_page, ["GET"]),
    ("/reviews/{job_id}/progress", progress, ["GET"]),
    ("/reviews/{job_id}/cancel", cancel, ["POST"]),
    ("/reviews/{job_id}/findings/{finding_id}/dismiss", dismiss_finding, ["POST"]),
]
