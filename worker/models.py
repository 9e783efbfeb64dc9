"""Job records (:class:`JobState`, the system of record) and the shapes the job tools return
(``invoke_*``, ``check_persona_job``/``wait_for_persona_job``, cancel, list, stats, reset)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from personas.runtime import Phase
from personas.runtime.findings import visible
from personas.runtime.review import Finding, Severity
from standards.lazy_model import LazyModel


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED})

Priority = Literal["low", "normal", "high"]


def new_job_id() -> str:
    return str(uuid.uuid4())


class JobState(LazyModel):
    """One persona job as the store keeps it (SQLite or PostgreSQL): what was asked, its status and
    progress, its result or error, timing and token counts; states and transitions are described in
    docs/architecture.md ("State")."""

    id: str = Field(default_factory=new_job_id)
    persona: str
    task: str
    context: str | None = None
    status: JobStatus = JobStatus.PENDING
    priority: Priority = "normal"

    progress_phase: Phase | None = "queued"
    progress_percent: int = 0
    progress_message: str | None = "Waiting for a worker"
    progress_eta_seconds: int | None = None

    result: str | None = None
    error: str | None = None
    partial_result: str | None = None

    created_at: float = Field(default_factory=time.time)
    started_at: float | None = None
    completed_at: float | None = None

    tool_calls_made: int = 0
    tokens_input: int | None = None
    tokens_output: int | None = None
    duration_seconds: float | None = None

    # What ran, and how to continue it.
    mode: Literal["review", "briefing"] | None = None
    persona_version: str | None = None
    prompt_hash: str | None = None
    findings: list[dict[str, Any]] | None = None
    attempts: int = 0
    follow_up_of: str | None = None
    proposals: list[dict[str, Any]] | None = None
    # Reviews of a change (issue 13): the resolved change, report filters, panels.
    changes: dict[str, Any] | None = None
    """The resolved ChangeSet (spec, diff, changed files and lines), resolved at submit time."""
    min_severity: Severity | None = None
    cited_only: bool = False
    panel: list[str] | None = None
    """The personas of a panel job (``persona`` is then 'panel'); each runs as a sub-run."""
    panel_runs: list[dict[str, Any]] | None = None
    """Per-persona sub-run state of a panel: status, progress, tokens, partial result, error."""

    @field_validator("cited_only", mode="before")
    @classmethod
    def _null_is_false(cls, value: object) -> object:
        return False if value is None else value  # rows written before the column existed

    # Bookkeeping of the job system. The lease says which worker runs the job and until when it is
    # presumed alive (renewed by a heartbeat); queue_job_id is the arq job id of the job's current
    # delivery (``<id>`` first, ``<id>:r<attempt>`` after a dead worker's job was re-queued).
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    queue_job_id: str | None = None
    queued_at: float | None = None
    webhook_status: str | None = None


class JobFinish(LazyModel):
    """The one way to finish a job: a terminal status and what the run left. Only the fields set
    are written (a cancel keeps the partial result the last progress update stored); the store
    adds ``completed_at``, the duration when none is given, the progress of a completed job, and
    the webhook outbox state."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: JobStatus
    error: str | None = None
    result: str | None = None
    partial_result: str | None = None
    mode: Literal["review", "briefing"] | None = None
    findings: list[dict[str, Any]] | None = None
    proposals: list[dict[str, Any]] | None = None
    tokens_input: int | None = None
    tokens_output: int | None = None
    tool_calls_made: int | None = None
    persona_version: str | None = None
    prompt_hash: str | None = None
    duration_seconds: float | None = None
    panel_runs: list[dict[str, Any]] | None = None

    @field_validator("status")
    @classmethod
    def _terminal(cls, status: JobStatus) -> JobStatus:
        if not status.terminal:
            raise ValueError(f"a job finishes complete, failed or cancelled, not {status.value}")
        return status

    @classmethod
    def failed(cls, error: str, *, partial_result: str | None = None) -> JobFinish:
        """A failure; ``partial_result`` (when given) replaces what the last progress update stored."""
        if partial_result is None:
            return cls(status=JobStatus.FAILED, error=error)
        return cls(status=JobStatus.FAILED, error=error, partial_result=partial_result)

    @classmethod
    def cancelled(cls, error: str) -> JobFinish:
        return cls(status=JobStatus.CANCELLED, error=error)

    def values(self) -> dict[str, Any]:
        """The job columns this transition sets (``status`` and the fields given)."""
        return self.model_dump(mode="python", exclude_unset=True) | {"status": self.status}


# ---- Tool replies ---------------------------------------------------------------------------


class InvokeResult(LazyModel):
    """Reply of every ``invoke_<persona>`` tool."""

    status: Literal["started"] = "started"
    job_id: str = Field(description="Pass this to check_persona_job.")
    persona: str
    estimated_duration_seconds: int = Field(description="Learned from this persona's recent runs.")
    poll_command: str = Field(description="The call to make next.")
    message: str


class JobProgress(LazyModel):
    phase: str
    percent_complete: int
    message: str
    eta_seconds: int | None = None
    tool_calls_completed: int = 0


class TokensUsed(LazyModel):
    input: int = 0
    output: int = 0


class JobReport(LazyModel):
    """Reply of ``check_persona_job``: which fields are set depends on ``status``.

    pending/running: ``progress`` and ``elapsed_seconds``. complete: ``result``, ``findings``,
    ``duration_seconds``, ``tool_calls_made``, ``tokens_used``. failed/cancelled: ``error``,
    ``partial_result`` (text produced before it stopped), ``elapsed_seconds``.
    """

    status: JobStatus
    job_id: str
    persona: str
    task: str
    progress: JobProgress | None = None
    elapsed_seconds: float | None = None
    result: str | None = None
    mode: str | None = Field(default=None, description="'review', or 'briefing' when no API key is set.")
    findings: list[Finding] | None = Field(default=None, description="The review's findings, critical first.")
    proposed_standards: list[dict[str, Any]] | None = Field(
        default=None,
        description="Draft standards this run proposed (id, domain, topic, title); a human approves them with "
        "approve_standard_proposal.",
    )
    duration_seconds: float | None = None
    tool_calls_made: int | None = None
    tokens_used: TokensUsed | None = None
    error: str | None = None
    partial_result: str | None = None
    changes: str | None = Field(default=None, description="The change reviewed ('working', 'staged' or a range).")
    hidden_findings: int | None = Field(
        default=None,
        description="Findings of the job left out of `findings` by min_severity / cited_only (the job keeps them).",
    )
    panel: list[dict[str, Any]] | None = Field(
        default=None, description="A panel's sub-runs: persona, status, percent, message, findings, tokens, error."
    )
    next_step: str = Field(description="What the calling assistant should do now.")

    @classmethod
    def from_state(cls, job: JobState, now: float | None = None) -> JobReport:
        now = time.time() if now is None else now
        base: dict[str, Any] = {
            "status": job.status,
            "job_id": job.id,
            "persona": job.persona,
            "task": job.task,
            "changes": (job.changes or {}).get("spec"),
            "panel": job.panel_runs,
        }
        elapsed = round(now - (job.started_at or job.created_at), 2)
        if job.status in (JobStatus.PENDING, JobStatus.RUNNING):
            return cls(
                **base,
                progress=JobProgress(
                    phase=job.progress_phase or "queued",
                    percent_complete=job.progress_percent,
                    message=job.progress_message or "",
                    eta_seconds=job.progress_eta_seconds,
                    tool_calls_completed=job.tool_calls_made,
                ),
                elapsed_seconds=elapsed,
                next_step=f"Still {job.status.value}; call check_persona_job again in a few seconds.",
            )
        if job.status is JobStatus.COMPLETE:
            findings = [Finding.model_validate(f) for f in job.findings or []]
            shown = visible(findings, job.min_severity, job.cited_only)
            return cls(
                **base,
                result=job.result,
                mode=job.mode,
                findings=shown,
                hidden_findings=len(findings) - len(shown),
                proposed_standards=job.proposals,
                duration_seconds=job.duration_seconds,
                tool_calls_made=job.tool_calls_made,
                tokens_used=TokensUsed(input=job.tokens_input or 0, output=job.tokens_output or 0),
                next_step=(
                    "Apply this briefing yourself: it lists the checks and standards to use."
                    if job.mode == "briefing"
                    else "Show the review to the user; cite the standards it references. To refine it, "
                    f"invoke the same persona with follow_up_of='{job.id}'."
                ),
            )
        end = job.completed_at or now
        return cls(
            **base,
            error=job.error,
            partial_result=job.partial_result,
            elapsed_seconds=round(end - (job.started_at or job.created_at), 2),
            tool_calls_made=job.tool_calls_made,
            next_step="Tell the user what went wrong; invoke the persona again if the error says it is safe.",
        )


# ---- Ops replies (list_persona_jobs, persona_database_stats, reset_persona_jobs) -------------


def iso_utc(ts: float | None) -> str | None:
    """A Unix timestamp as ISO 8601 in UTC (seconds precision), or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class CancelResult(LazyModel):
    """Reply of ``cancel_persona_job``."""

    status: JobStatus = Field(description="'cancelled', or the state the job had already finished in.")
    job_id: str
    cancelled: bool = Field(description="False when the job had already finished: nothing was changed.")
    partial_result: str | None = Field(default=None, description="What the persona produced before it stopped.")
    message: str


class JobSummary(LazyModel):
    job_id: str
    persona: str
    status: JobStatus
    priority: Priority
    task: str = Field(description="The task, truncated to 80 characters.")
    created_at: str = Field(description="ISO 8601, UTC.")
    duration_seconds: float | None = Field(default=None, description="Set once the job finished.")

    @classmethod
    def from_state(cls, job: JobState) -> JobSummary:
        task = job.task if len(job.task) <= 80 else job.task[:79].rstrip() + "…"
        return cls(
            job_id=job.id,
            persona=job.persona,
            status=job.status,
            priority=job.priority,
            task=task,
            created_at=iso_utc(job.created_at) or "",
            duration_seconds=round(job.duration_seconds, 2) if job.duration_seconds is not None else None,
        )


class JobList(LazyModel):
    """Reply of ``list_persona_jobs``: newest first."""

    jobs: list[JobSummary]
    total_count: int = Field(description="Jobs in the database.")
    filtered_count: int = Field(
        description="Jobs matching the status/persona filters; `jobs` holds the newest of them."
    )


class PersonaUsage(LazyModel):
    persona: str
    jobs: int
    complete: int
    failed: int
    cancelled: int
    active: int = Field(description="Pending or running now.")
    success_rate: float | None = Field(description="complete / (complete + failed); None before any finished.")
    p50_duration_seconds: float | None
    p95_duration_seconds: float | None
    tokens_input: int
    tokens_output: int
    jobs_per_day: dict[str, int] = Field(description="Jobs started on each of the last 7 UTC days, oldest first.")
    findings_per_run: float | None = Field(
        default=None, description="Mean findings of this persona's completed runs (panel sub-runs included)."
    )
    dismissals: int = Field(default=0, description="Its findings the team dismissed as noise (dismiss_finding).")
    dismissal_rate: float | None = Field(
        default=None,
        description="Dismissals / findings it raised in the jobs still in the database (capped at 1): high = noisy.",
    )


class DatabaseStats(LazyModel):
    """Reply of ``persona_database_stats``."""

    database_size_mb: float
    total_jobs: int
    jobs_by_status: dict[str, int]
    oldest_job_days: float | None
    next_cleanup: str = Field(description="When the retention job runs next (ISO 8601, UTC; hourly).")
    last_cleanup: str | None = Field(description="When the retention job last ran; None if never.")
    last_cleanup_deleted: int | None = None
    retention_days: dict[str, float] = Field(description="Age after which terminal jobs are deleted, by status.")
    cleanup_recommendation: str = Field(description="'healthy', or what to do.")
    personas: list[PersonaUsage] = Field(description="Usage per persona over the jobs still in the database.")


class ResetResult(LazyModel):
    """Reply of ``reset_persona_jobs``."""

    status: Literal["reset"] = "reset"
    jobs_deleted: int
    jobs_cancelled: int = Field(description="Pending or running jobs that were cancelled before deletion.")
    space_freed_mb: float
    message: str
