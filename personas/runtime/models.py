"""Data that crosses the runtime's boundary: configuration, request, progress, outcome, errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import ConfigDict, Field

from personas.changes.models import ChangeSet
from standards.lazy_model import LazyModel

Phase = Literal["queued", "initializing", "searching", "analyzing", "generating", "done"]


class ProgressUpdate(LazyModel):
    """Progress of a running job, as reported by the persona runtime."""

    phase: Phase
    percent_complete: int = Field(ge=0, le=100)
    message: str
    eta_seconds: int | None = None
    tool_calls_completed: int = 0
    tokens_input: int = 0
    tokens_output: int = 0
    partial_result: str | None = Field(
        default=None, description="Text produced so far; kept by the worker if the run is cancelled or fails."
    )


ProgressSink = Callable[[ProgressUpdate], Awaitable[None]]


class LLMConfig(LazyModel):
    api_key: str | None = None
    base_url: str | None = None
    default_model: str = "claude-sonnet-5-5"
    timeout_seconds: float = 120.0
    max_retries: int = 3
    send_temperature: bool = False
    """The current Messages API takes no sampling parameters; older or compatible endpoints do.
    When set, the persona's temperature is sent through ``extra_body``."""


class RunLimits(LazyModel):
    """Budgets of one run. A run that hits one fails cleanly with its partial result."""

    model_config = ConfigDict(frozen=True)

    max_turns: int = Field(default=12, ge=1, le=100, description="Model calls per run.")
    max_tool_calls: int = Field(default=40, ge=1, le=500, description="Tool calls per run (submit_review excepted).")
    max_seconds: float = Field(
        default=540.0, gt=0, description="Wall time of the run; keep it below the worker's job timeout."
    )
    max_file_bytes: int = Field(default=200_000, ge=1, description="Largest project file read_file will return.")
    max_context_chars: int = Field(
        default=200_000,
        ge=1,
        description="Cap on task + context after inlining files (PERSONAS_MAX_CONTEXT_CHARS).",
    )


class DismissedFinding(LazyModel):
    """A finding the team dismissed as noise (by fingerprint), with why."""

    id: str
    persona: str
    title: str
    file: str | None = None
    reason: str


class RunRequest(LazyModel):
    job_id: str
    task: str
    context: str | None = None
    history: list[dict[str, Any]] | None = Field(
        default=None,
        description="Messages of the run being followed up (RunOutcome.messages); the task becomes the next turn.",
    )
    changes: ChangeSet | None = Field(
        default=None,
        description="The change under review: its diff opens the conversation; files are read at its head.",
    )
    supplied_files: dict[str, str] | None = Field(
        default=None,
        description="Files a remote client sent (path → text): file tools read these instead of the disk.",
    )
    min_severity: Literal["critical", "high", "medium", "low", "info"] | None = Field(
        default=None, description="The Markdown review shows only findings at or above this (all are kept)."
    )
    cited_only: bool = Field(default=False, description="The Markdown review shows only findings citing a standard.")
    dismissed_ids: list[str] = Field(
        default_factory=list, description="Every dismissed fingerprint of the persona: findings with one are dropped."
    )
    dismissed: list[DismissedFinding] = Field(
        default_factory=list,
        description="Findings the team dismissed: dropped when raised again, listed to the persona.",
    )


class RunOutcome(LazyModel):
    mode: Literal["review", "briefing"]
    result: str = Field(description="The review (or briefing) as Markdown.")
    findings: list[dict[str, Any]] = Field(default_factory=list)
    dismissed_dropped: int = Field(default=0, description="Findings dropped because the team had dismissed them.")
    summary: str | None = Field(default=None, description="The review's summary (submit_review), if structured.")
    proposals: list[dict[str, Any]] = Field(
        default_factory=list, description="Draft standards proposed in this run: id, domain, topic, title."
    )
    ended_by: Literal["submit_review", "text", "briefing"]
    tokens_input: int = 0
    tokens_output: int = 0
    tool_calls: int = 0
    turns: int = 0
    persona_id: str
    persona_version: str
    prompt_hash: str = Field(description="sha256 (first 16 hex) of the exact system prompt used.")
    messages: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The whole conversation, JSON-able; pass it back as RunRequest.history.",
    )


class PersonaRunError(Exception):
    """A run failed. ``transient`` errors may succeed on retry; ``partial_result`` keeps any text."""

    def __init__(self, message: str, *, transient: bool = False, partial_result: str | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.partial_result = partial_result
