"""What a server's tools read: the open state (:class:`AppState`), or why it could not open.

Its own light module: the MCP layer checks the state's type on every call, and the server answers
``tools/list`` before anything these name (Redis, the job store, the index) is imported; they open in
:func:`mcp_server.app.open_app`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp_server.roots import Workspace
    from mcp_server.session_log import JobEvents
    from mcp_server.settings import Settings
    from personas.registry import PersonaRegistry
    from standards.curation.service import ProposalService
    from standards.index.searcher import IndexSearcher
    from worker.dismissals import DismissalStore
    from worker.service import JobService


@dataclass
class AppState:
    """Everything a tool needs, opened by :func:`mcp_server.app.open_app` and read through the MCP context."""

    settings: Settings
    personas: PersonaRegistry
    jobs: JobService
    standards: IndexSearcher
    redis_url: str
    proposals: ProposalService
    job_events: JobEvents
    """Sends each job's lifecycle as MCP log messages to the session that started it."""
    workspace: Workspace
    """The project root persona runs use; follows the client's MCP roots unless configured."""
    dismissals: DismissalStore | None = None
    """Findings the team dismissed (dismiss_finding, personas findings)."""


@dataclass(frozen=True)
class Unavailable:
    """The lifespan state of a server whose stores could not open (e.g. a damaged database): the
    server stays up and every tool answers with ``reason`` instead of the client seeing EOF."""

    reason: str
