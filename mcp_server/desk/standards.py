"""Standards: browse by source and domain, read one, search with the same search as the tool."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from mcp_server.desk.web import Desk
from standards import frontmatter

MAX_QUERY = 500


async def browse(desk: Desk, request: Request) -> Response:
    source = request.query_params.get("source") or None
    domain = request.query_params.get("domain") or None
    query = (request.query_params.get("q") or "").strip()[:MAX_QUERY]
    files = await desk.state.standards.list_files()
    sources = sorted({f.source for f in files})
    domains = sorted({f.domain for f in files})
    shown = [f for f in files if (source is None or f.source == source) and (domain is None or f.domain == domain)]
    results = None
    if query:
        response = await desk.state.standards.search(query, domain=domain, limit=10)
        results = [h for h in response.results if source is None or h.source == source]
    return desk.page(
        request,
        "standards.html",
        title="Standards",
        section="standards",
        files=shown,
        sources=sources,
        domains=domains,
        chosen={"source": source, "domain": domain, "q": query},
        results=results,
        status=desk.state.standards.status(),
    )


async def view(desk: Desk, request: Request) -> Response:
    file = request.query_params.get("file", "")
    source = request.query_params.get("source") or None
    if not file:
        raise ValueError("name the standard: ?file=<domain>/<topic>.md")
    raw = await desk.state.standards.read_file(file, source)
    parsed = await asyncio.to_thread(frontmatter.parse, raw)
    meta, body = parsed.meta, parsed.body
    title = str(meta.get("title") or file)
    return desk.page(
        request, "standard.html", title=title, section="standards", file=file, source=source, text=body, meta=meta
    )


ROUTES = [("/standards", browse, ["GET"]), ("/standards/view", view, ["GET"])]
