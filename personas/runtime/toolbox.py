"""What a run depends on, passed in as arguments: project root, standards search, proposal sink, limits.

The protocols are structural so the runtime never imports the standards index or the stores:
``standards.IndexSearcher`` and ``standards.curation.store.ProposalStore`` satisfy them as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
    scoped to other paths are left out and those scoped to these paths ranked first.
    ``unaccepted``: documents (``source:file``) left out, overriding nothing (a change's own standards)."""

    async def search(
        self,
        query: str,
        *,
        domain: str | None = None,
        tags: list[str] | None = None,
        source: str | None = None,
        limit: int = 5,
        paths: list[str] | None = None,
        unaccepted: list[str] | None = None,
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
    shared_dirs: tuple[Path, ...] = ()
    """The shared standards folders (source ``shared``): those inside the project can be edited by a change too."""

    @classmethod
    def default(cls) -> RunToolbox:
        """The current directory as project root, no search, proposals refused."""
        return cls(project_root=Path.cwd())


#: Names of the rule files a project keeps for AI assistants (``standards.index.rules`` indexes them).
RULE_FILE_NAMES = ("agents.md", "claude.md", ".cursorrules", "copilot-instructions.md")
RULE_FILE_SUFFIXES = (".mdc", ".instructions.md")
#: What an indexed standard or rule file is named like (the rest of a change is never one).
DOC_SUFFIXES = (".md", ".markdown", ".mdc")


@dataclass(frozen=True)
class ChangeStandards:
    """The standards and rule files a reviewed change edits: the index's keys a search leaves out
    (``unaccepted``) and their project paths, to tell the persona."""

    unaccepted: list[str]
    edited: list[str]


def change_standards(changed: Iterable[str], toolbox: RunToolbox) -> ChangeStandards:
    """What a reviewed change edits of the rules it is judged by (``changed``: project-relative
    paths). Searches leave these out, so a pull request can neither write the rules it is judged by
    nor hide the org's standard of the same ``<domain>/<topic>.md`` behind its own copy."""
    root = toolbox.project_root.resolve()
    folders = [("project", toolbox.standards_dir)] if toolbox.standards_dir is not None else []
    folders += [("shared", folder) for folder in toolbox.shared_dirs]
    prefixes: list[tuple[str, str]] = []
    for source, folder in folders:
        resolved = folder.resolve()
        if resolved.is_relative_to(root):
            prefixes.append((source, resolved.relative_to(root).as_posix()))
    docs: set[str] = set()
    edited: set[str] = set()
    for path in changed:
        name = path.rsplit("/", 1)[-1].casefold()
        if not name.endswith(DOC_SUFFIXES) and name not in RULE_FILE_NAMES:
            continue  # never an indexed doc: a change of 10,001 source files made every search fail (bound)
        # Keys the index does not hold are dropped by the search, which matches them in any letter case:
        # on macOS's and Windows' file systems '.Agent-OS/Standards/x.md' is checked out as the standard.
        docs.add(f"rules:{path}")
        if name in RULE_FILE_NAMES or name.endswith(RULE_FILE_SUFFIXES):
            edited.add(path)
        for source, prefix in prefixes:
            if prefix == "." or path.casefold().startswith(prefix.casefold() + "/"):
                docs.add(f"{source}:{path if prefix == '.' else path[len(prefix) + 1 :]}")
                if name.endswith((".md", ".markdown")):
                    edited.add(path)
    return ChangeStandards(unaccepted=sorted(docs), edited=sorted(edited))


def citation_ref(hit: SearchHitLike) -> str:
    """How a finding cites a chunk: ``file#heading`` with the chunk's own (deepest) heading."""
    return f"{hit.file}#{hit.heading_path[-1]}" if hit.heading_path else hit.file
