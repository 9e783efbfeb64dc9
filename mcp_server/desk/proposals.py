"""Proposals: open/decided lists, one proposal (rendered, side-by-side diff), approve/changes/reject."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mcp_server.desk.web import Desk, form

DECIDED = ("approved", "rejected")


@dataclass(frozen=True)
class DiffRow:
    """One row of a side-by-side diff: left (before) and right (after), with their kinds."""

    left: str | None
    right: str | None
    kind: str  # "same", "change", "del", "add", "hunk"


def side_by_side(unified: str | None) -> list[DiffRow]:
    """Lay a unified diff out as rows: removed lines pair with the added lines that replace them."""
    rows: list[DiffRow] = []
    removed: list[str] = []
    added: list[str] = []

    def flush() -> None:
        for i in range(max(len(removed), len(added))):
            left = removed[i] if i < len(removed) else None
            right = added[i] if i < len(added) else None
            kind = "change" if left is not None and right is not None else ("del" if right is None else "add")
            rows.append(DiffRow(left, right, kind))
        removed.clear()
        added.clear()

    in_hunk = False
    for line in (unified or "").splitlines():
        # Only the file header before the first hunk: inside one, '+++ x' is an added line '++ x'.
        if not in_hunk and line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            in_hunk = True
            flush()
            rows.append(DiffRow(line, line, "hunk"))
        elif line.startswith("-"):
            removed.append(line[1:])
        elif line.startswith("+"):
            added.append(line[1:])
        else:
            flush()
            rows.append(DiffRow(line[1:], line[1:], "same"))
    flush()
    return rows


async def list_page(desk: Desk, request: Request) -> Response:
    which = request.query_params.get("status", "open")
    if which not in ("open", "decided"):
        raise ValueError("status must be 'open' or 'decided'")
    service = desk.state.proposals
    if which == "open":
        listing = await service.list_proposals("open", limit=200)
        shown = listing.proposals
    else:
        listing = await service.list_proposals("all", limit=200)
        shown = [p for p in listing.proposals if p.status in DECIDED]
    counts = listing.counts
    return desk.page(
        request,
        "proposals.html",
        title="Proposals",
        section="proposals",
        which=which,
        proposals=shown,
        open_count=counts.get("draft", 0) + counts.get("changes_requested", 0),
        decided_count=sum(counts.get(s, 0) for s in DECIDED),
    )


def unrendered_lines(desk: Desk, text: str | None) -> list[str]:
    """Lines of ``text`` that its rendering does not show: Markdown link reference definitions (the usual
    Markdown comment, ``[//]: # (…)``) render as nothing, yet are written and indexed for the personas."""
    if not text:
        return []
    covered: set[int] = set()
    for token in desk.markdown.parse(text):
        if token.map:
            covered.update(range(token.map[0], token.map[1]))
    return [line for n, line in enumerate(text.splitlines()) if line.strip() and n not in covered]


async def detail_page(desk: Desk, request: Request, outcome: object | None = None) -> Response:
    detail = await desk.state.proposals.show(request.path_params["proposal_id"])
    return desk.page(
        request,
        "proposal.html",
        title=detail.title,
        section="proposals",
        p=detail,
        diff=side_by_side(detail.diff),
        unrendered=unrendered_lines(desk, detail.content),
        approver=desk.remembered_name(request),
        outcome=outcome,
    )


async def approve(desk: Desk, request: Request) -> Response:
    values = await form(request)
    approver = values.get("approved_by", "").strip()
    if not approver:
        raise ValueError("say who approves it: fill in 'Approved by'")
    result = await desk.state.proposals.approve(request.path_params["proposal_id"], approved_by=approver)
    response = await detail_page(desk, request, outcome=result)
    desk.remember_name(response, approver)
    return response


async def request_changes(desk: Desk, request: Request) -> Response:
    feedback = _feedback(await form(request))
    result = await desk.state.proposals.request_changes(request.path_params["proposal_id"], feedback)
    return await detail_page(desk, request, outcome=result)


async def reject(desk: Desk, request: Request) -> Response:
    feedback = _feedback(await form(request))
    result = await desk.state.proposals.reject(request.path_params["proposal_id"], feedback)
    return await detail_page(desk, request, outcome=result)


def _feedback(values: dict[str, str]) -> str:
    feedback = values.get("feedback", "").strip()
    if not feedback:
        raise ValueError("write the feedback the persona (or the record) should get")
    return feedback


async def _index(desk: Desk, request: Request) -> Response:
    return RedirectResponse(desk.url("/proposals"), status_code=303)


ROUTES = [
    ("/proposals", list_page, ["GET"]),
    ("/proposals/{proposal_id}", detail_page, ["GET"]),
    ("/proposals/{proposal_id}/approve", approve, ["POST"]),
    ("/proposals/{proposal_id}/request-changes", request_changes, ["POST"]),
    ("/proposals/{proposal_id}/reject", reject, ["POST"]),
]
