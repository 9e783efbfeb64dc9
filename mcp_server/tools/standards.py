"""Standards tools and resources: search_standards, and the standards files as MCP resources."""

from __future__ import annotations

import json
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from pydantic import Field

from mcp_server.tools.context import app_state
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
Paths = Annotated[
    list[str] | None,
    Field(
        description="Project-relative files you are working on, e.g. ['api/users.py']: rules scoped to other "
        "paths are left out and rules for these paths come first."
    ),
]
SOURCES = ("all", "project", "shared", "universal", "rules")


async def search_standards(  # noqa: PLR0917 (MCP tool arguments)
    query: Query, ctx: Context, domain: Domain = None, tags: Tags = None, limit: Limit = 5, paths: Paths = None
) -> SearchResponse:
    """Search this team's engineering standards: the project's, the organisation's shared ones, the
    universal starters, and the rule files kept in the repo (AGENTS.md, .cursor/rules, ...).

    Call it before writing or changing code, with a short description of what you are about to
    do and the files you are touching as `paths`; follow what it returns and cite the standards you
    used as file#heading. Results are chunks with file, heading_path, domain, source ('project' >
    'shared' > 'universal'; `overrides` names what a hit replaces; 'rules' = rule files), paths
    (the globs it governs; [] = everywhere), score (higher is better) and text. If status.state is
    'building' or 'empty' the index is still being built: results may be incomplete; try again shortly.
    """
    state = app_state(ctx)
    try:
        return await state.standards.search(query, domain=domain, tags=tags, limit=limit, paths=paths)
    except ValueError as exc:
        raise ToolError(str(exc)) from exc


def register_standards(server: MCPServer[Any]) -> None:
    server.add_tool(search_standards)

    @server.resource(
        "personas://standards/{source}",
        name="standards",
        title="Standards",
        description="Indexed standards of one source ('project', 'shared', 'universal', 'rules' or 'all'): file, "
        "domain, source, path scope (paths), overridden_by, title, tags, query count.",
        mime_type="application/json",
    )
    async def list_standards(source: str, ctx: Context) -> str:
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
    async def read_standard(source: str, domain: str, topic: str, ctx: Context) -> str:
        try:
            return await app_state(ctx).standards.read_file(f"{domain}/{topic}.md", source)
        except (ValueError, OSError) as exc:
            raise ResourceError(f"No standard {source}/{domain}/{topic}: {exc}") from exc
