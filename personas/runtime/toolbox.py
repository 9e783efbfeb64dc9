"""What a run depends on, passed in as arguments: project root, standards search, proposal sink, limits.

The protocols are structural so the runtime never imports the standards index or the stores:
``standards.IndexSearcher`` and ``standards.curation.store.ProposalStore`` satisfy them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from personas.runtime.models import RunLimits
from personas.runtime.sandbox import FileText


class ProjectFiles(Protocol):
    """What file tools read: the working tree (ProjectSandbox) or a change's head (GitSnapshot). Blocking."""

    def read_text(self, raw: str) -> FileText: ...

    def list_files(self, pattern: str, *, limit: int) -> tuple[list[str], int]: ...


class SearchHitLike(Protocol):
    """One chunk of a standard (``standards.index.models.SearchHit`` has this shape)."""

    @property
    def file(self) -> str: ...
    @property
    def heading_path(self) -> list[str]: ...
    @property
    def domain(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def text(self) -> str: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def paths(self) -> list[str]: ...


class SearchResponseLike(Protocol):
    @property
    def results(self) -> Sequence[SearchHitLike]: ...


class StandardsSearch(Protocol):
    """Hybrid search over the team's standards. Raises ValueError on a bad query or filter.

    ``paths``: project-relative files the search is about (the files under review); standards
    scoped to other paths are left out and those scoped to these paths ranked first."""

    async def search(
        self,
        query: str,
        *,
        domain: str | None = None,
        tags: list[str] | None = None,
        source: str | None = None,
        limit: int = 5,
        paths: list[str] | None = None,
    ) -> SearchResponseLike: ...


class ProposalSink(Protocol):
    """Stores a proposed standard as a draft awaiting human approval; returns its id.

    Raises ValueError when a field is invalid (the message is shown to the model)."""

    async def create_draft(
        self,
        *,
        domain: str,
        topic: str,
        title: str,
        content: str,
        rationale: str,
        proposed_by: str,
        job_id: str | None = None,
    ) -> str: ...


@dataclass
class RunToolbox:
    """Dependencies of one run. ``search`` / ``proposals`` may be None: those tools then say so."""

    project_root: Path
    search: StandardsSearch | None = None
    proposals: ProposalSink | None = None
    limits: RunLimits = field(default_factory=RunLimits)
    denied_paths: tuple[Path, ...] = ()
    """Extra folders file tools must never read (e.g. the data directory with the job database)."""
    standards_dir: Path | None = None
    """The project's standards folder (source ``project``), to tell which hits a reviewed change edits."""

    @classmethod
    def default(cls) -> RunToolbox:
        """The current directory as project root, no search, proposals refused."""
        return cls(project_root=Path.cwd())


def project_path(hit: SearchHitLike, toolbox: RunToolbox) -> str | None:
    """The project-relative path of a hit's file: a rule file's own, a project standard's under the
    standards folder; None for the shared and shipped standards (not in the project)."""
    if hit.source == "rules":
        return hit.file
    if hit.source != "project" or toolbox.standards_dir is None:
        return None
    root, folder = toolbox.project_root.resolve(), toolbox.standards_dir.resolve()
    if not folder.is_relative_to(root):
        return None
    prefix = folder.relative_to(root).as_posix()
    return hit.file if prefix == "." else f"{prefix}/{hit.file}"


def citation_ref(hit: SearchHitLike) -> str:
    """How a finding cites a chunk: ``file#heading`` with the chunk's own (deepest) heading."""
    return f"{hit.file}#{hit.heading_path[-1]}" if hit.heading_path else hit.file
