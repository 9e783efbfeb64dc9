"""Public data models of the standards index (configuration, results, status)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field

from standards.lazy_model import LazyModel

SourceKind = Literal["project", "shared", "universal", "rules"]
#: Sources whose ``<domain>/<topic>.md`` files override each other, strongest first.
PRECEDENCE: tuple[str, ...] = ("project", "shared", "universal")
SOURCE_KINDS: tuple[str, ...] = ("project", "shared", "universal", "rules")
SearchMode = Literal["hybrid", "vector"]
EmbeddingBackend = Literal["auto", "onnx-int8", "onnx", "torch"]
IndexState = Literal["empty", "building", "ready", "stale", "error"]


class StandardsSource(LazyModel):
    """A folder of Markdown standards: ``<root>/<domain>/<topic>.md``."""

    root: Path = Field(description="Folder holding the standards; first-level folders are domains.")
    kind: SourceKind = Field(
        description="'project' for the team's own standards, 'shared' for an organisation's read-only standards "
        "folder, 'universal' for the starters, 'rules' for rule files (AGENTS.md, .cursor/rules, ...) found in "
        "the project root given as ``root``."
    )
    domains: dict[str, str] = Field(
        default_factory=dict,
        description="Rules only: glob over the file's project-relative path -> domain; first match wins, "
        "otherwise the file's front matter 'domain', otherwise 'general'.",
    )


class IndexConfig(LazyModel):
    """Where the standards live, where the index is kept and how it is searched."""

    sources: list[StandardsSource]
    index_dir: Path = Field(description="Folder for the LanceDB index and the query-count database.")
    model_path: Path | None = Field(
        default=None, description="Local sentence-transformers model folder; None = bundled all-MiniLM-L6-v2."
    )
    embedding_backend: EmbeddingBackend = Field(
        default="auto",
        description="'auto' = ONNX Runtime int8 when onnxruntime is installed, else torch; or 'onnx-int8', "
        "'onnx' (fp32, same vectors as torch), 'torch'.",
    )
    search_mode: SearchMode = Field(
        default="hybrid",
        description="'hybrid' = cosine similarity plus a small full-text (BM25) term; 'vector' uses embeddings only.",
    )
    embedding_cache_dir: Path | None = Field(
        default=None,
        description="Folder of the embedding cache shared across projects (vectors of unchanged text are "
        "reused, e.g. the starter standards'); None = no cache.",
    )
    debounce_seconds: float = Field(default=0.15, ge=0.0, le=10.0)
    max_file_bytes: int = Field(default=1_000_000, gt=0)
    max_walk_files: int = Field(
        default=20_000, gt=0, description="Markdown files taken from one standards folder at most (a huge tree is cut)."
    )
    counts_database: str | None = Field(
        default=None,
        repr=False,
        description="PostgreSQL URL for the per-file query counts (PERSONAS_DATABASE_URL); None = a SQLite "
        "file in index_dir.",
    )


class SearchHit(LazyModel):
    """One chunk of a standard that matched a query."""

    file: str = Field(description="Path of the standard relative to its root, e.g. 'security/secrets.md'.")
    heading_path: list[str] = Field(description="Headings leading to the chunk, title first.")
    domain: str = Field(description="First-level folder of the file ('general' for files at the root).")
    source: str = Field(description="'project', 'shared', 'universal' or 'rules'.")
    paths: list[str] = Field(
        default_factory=list, description="Globs of the project paths this standard governs; [] = everywhere."
    )
    overrides: list[str] = Field(
        default_factory=list,
        description="Standards of weaker sources with the same <domain>/<topic>, hidden by this one "
        "(e.g. 'universal:security/secrets.md').",
    )
    score: float = Field(description="Relevance; higher is better (1.0 = top of every ranking).")
    text: str = Field(description="The chunk's Markdown text.")
    tags: list[str] = Field(description="Tags from the file's front matter.")


class SkippedFile(LazyModel):
    """A standards file the index does not hold, and why (fix the file and it is indexed on save)."""

    file: str
    source: str
    reason: str


#: At most this many skipped files are listed in the status (``skipped_total`` counts them all).
MAX_SKIPPED_LISTED = 50


class IndexStatus(LazyModel):
    """What the index holds and whether it is still being built."""

    state: IndexState
    files_indexed: int = 0
    files_total: int = 0
    chunks: int = 0
    message: str = ""
    last_updated: float | None = Field(default=None, description="Unix time of the last index change.")
    fts_indexed_rows: int = Field(default=0, description="Chunks covered by the full-text index.")
    fts_unindexed_rows: int = Field(default=0, description="Chunks not yet folded into the full-text index.")
    skipped: list[SkippedFile] = Field(default_factory=list, description="Files not indexed, with the reason.")
    skipped_total: int = 0
    walk_cut: list[str] = Field(
        default_factory=list, description="Standards folders whose walk was cut (too many files), with the fix."
    )


class SearchResponse(LazyModel):
    """Results of ``search_standards`` together with the index status."""

    query: str
    results: list[SearchHit]
    status: IndexStatus
    took_ms: float
    cached: bool


class BuildProgress(LazyModel):
    """Progress of a build or reconcile, reported after each batch."""

    files_done: int
    files_total: int
    chunks_done: int
    elapsed_seconds: float
    chunks_per_second: float
    eta_seconds: float | None


class BuildReport(LazyModel):
    """Outcome of a full build."""

    files: int
    chunks: int
    seconds: float
    chunks_per_second: float
    skipped: list[str] = Field(default_factory=list, description="Files skipped with the reason.")
    fts_indexed_rows: int = 0
    fts_unindexed_rows: int = 0


class StandardFile(LazyModel):
    """A standard known to the index (for MCP resources)."""

    file: str
    domain: str
    source: str
    title: str
    tags: list[str]
    query_count: int
    paths: list[str] = Field(default_factory=list, description="Path scope (globs); [] = the whole project.")
    overridden_by: str | None = Field(
        default=None, description="The stronger standard hiding this one from searches (source:file)."
    )


@dataclass
class IndexResult:
    """What a pass over some files changed."""

    changed: list[str] = field(default_factory=list)  # doc keys whose chunks changed
    changed_files: list[str] = field(default_factory=list)  # root-relative paths
    files_seen: int = 0
    chunks_written: int = 0
    texts_embedded: int = 0
    cache_hits: int = 0  # vectors taken from the shared embedding cache
    skipped: dict[str, str] = field(default_factory=dict)  # doc key -> why the file was not indexed
    indexed: list[str] = field(default_factory=list)  # doc keys of files read and indexed (or unchanged)

    def merge(self, other: IndexResult) -> None:
        """Add another pass's outcome to this one."""
        self.changed += other.changed
        self.changed_files += other.changed_files
        self.files_seen += other.files_seen
        self.chunks_written += other.chunks_written
        self.texts_embedded += other.texts_embedded
        self.cache_hits += other.cache_hits
        self.skipped.update(other.skipped)
        self.indexed += other.indexed


def report_progress(
    progress: Callable[[BuildProgress], None] | None, result: IndexResult, started: float, total: int
) -> None:
    """Call ``progress`` (if any) with a pass's progress so far."""
    if progress is None:
        return
    elapsed = time.perf_counter() - started
    eta = None
    if result.files_seen and result.files_seen < total:
        eta = elapsed / result.files_seen * (total - result.files_seen)
    progress(
        BuildProgress(
            files_done=result.files_seen,
            files_total=total,
            chunks_done=result.chunks_written,
            elapsed_seconds=elapsed,
            chunks_per_second=result.chunks_written / elapsed if elapsed > 0 else 0.0,
            eta_seconds=eta,
        )
    )
