"""Standards tools and resources: search_standards, and the standards files as MCP resources."""

from __future__ import annotations

import json
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from pydantic import Field

from mcp_server.tools.annotations import reads
from mcp_server.tools.context import AppContext, app_state
from standards import SearchResponse

Query = Annotated[
    str,
    Field(description="What you are about to do or want to know, e.g. 'validate JWT audience and expiry'."),
]
Domain = Annotated[
    str | None,
    Field(description="Only this domain (first-level folder), e.g. 'security', 'testing', 'operations'."),
]
Tags = Annotated[list[str] | None, Field(description="Only standards carrying all of these front-matter tags.")]
Limit = Annotated[int, Field(ge=1, le=20, description="How many chunks to return (default 5).")]


async def search_standards(
    query: Query, ctx: AppContext, domain: Domain = None, tags: Tags = None, limit: Limit = 5
) -> SearchResponse:
    """Search this team's engineering standards (the project's, then the universal starters).

    Call it before writing or changing code, with a short description of what you are about to do;
    follow what it returns and cite what you used as file#heading. 'project' results win over
    'universal' ones. While status.state is 'building' or 'empty', results may be incomplete.
    """
    state = app_state(ctx)
    try:
        return await state.standards.search(query, domain=domain, tags=tags, limit=limit)
    except ValueError as exc:
        raise ToolError(str(exc)) from exc


def register_standards(server: MCPServer[Any]) -> None:
    server.add_tool(search_standards, annotations=reads("Search the standards"))

    @server.resource(
        "personas://standards/{source}",
        name="standards",
        title="Standards",
        description="Indexed standards of one source ('project', 'universal' or 'all'): file, domain, source, "
        "title, tags, query count.",
        mime_type="application/json",
    )
    async def list_standards(source: str, ctx: AppContext) -> str:
        if source not in ("all", "project", "universal"):
            raise ResourceError(f"Unknown source {source!r}: use 'all', 'project' or 'universal'.")
        files = await app_state(ctx).standards.list_files()
        return json.dumps([f.model_dump() for f in files if source in ("all", f.source)], indent=2)

    @server.resource(
        "personas://standards/{source}/{domain}/{topic}",
        name="standard",
        title="One standard",
        description="The Markdown of one standard, e.g. personas://standards/universal/security/secrets-management.",
        mime_type="text/markdown",
    )
    async def read_standard(source: str, domain: str, topic: str, ctx: AppContext) -> str:
        try:
            return await app_state(ctx).standards.read_file(f"{domain}/{topic}.md", source)
        except (ValueError, OSError) as exc:
            raise ResourceError(f"No standard {source}/{domain}/{topic}: {exc}") from exc
