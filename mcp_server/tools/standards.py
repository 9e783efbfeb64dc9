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
    Field(description="What you are about to do or want to know."),
]
Domain = Annotated[
    str | None,
    Field(description="Only this domain, e.g. 'security'."),
]
Tags = Annotated[list[str] | None, Field(description="Only standards with all these tags.")]
Limit = Annotated[int, Field(ge=1, le=20)]
Paths = Annotated[
    list[str] | None,
    Field(description="Files you work on: rules scoped to them come first, rules for other paths are left out."),
]
SOURCES = ("all", "project", "shared", "universal", "rules")


async def search_standards(  # noqa: PLR0917 (MCP tool arguments)
    query: Query, ctx: AppContext, domain: Domain = None, tags: Tags = None, limit: Limit = 5, paths: Paths = None
) -> SearchResponse:
    """Search the team's engineering standards (project, shared, starters, repo rules such as
    AGENTS.md). Call it before writing or changing code, with the files you touch as `paths`; follow
    the results and cite them as file#heading (incomplete while status.state is 'building')."""
    state = app_state(ctx)
    try:
        return await state.standards.search(query, domain=domain, tags=tags, limit=limit, paths=paths)
    except ValueError as exc:
        raise ToolError(str(exc)) from exc


def register_standards(server: MCPServer[Any]) -> None:
    server.add_tool(search_standards, annotations=reads("Search the standards"))

    @server.resource(
        "personas://standards/{source}",
        name="standards",
        title="Standards",
        description="Indexed standards of one source ('project', 'shared', 'universal', 'rules' or 'all'): file, "
        "domain, source, path scope (paths), overridden_by, title, tags, query count.",
        mime_type="application/json",
    )
    async def list_standards(source: str, ctx: AppContext) -> str:
        if source not in SOURCES:
            raise ResourceError(f"Unknown source {source!r}: use one of {', '.join(SOURCES)}.")
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
