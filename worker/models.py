"""Job records and the shapes the MCP tools return (reference spec: JobState, check_persona_job)."""

from __future__ import annotations

import time
import uuid
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from personas.runtime import Phase


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


class JobState(BaseModel):
    """One persona job: the system of record in SQLite (fields of the reference spec's JobState)."""

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

    # Beyond the reference spec: what ran, and how to continue it.
    mode: Literal["review", "briefing"] | None = None
    persona_version: str | None = None
    prompt_hash: str | None = None
    findings: list[dict[str, Any]] | None = None
    attempts: int = 0
    follow_up_of: str | None = None


# ---- Tool replies ---------------------------------------------------------------------------


class InvokeResult(BaseModel):
    """Reply of every ``invoke_<persona>`` tool."""

    status: Literal["started"] = "started"
    job_id: str = Field(description="Pass this to check_persona_job.")
    persona: str
    estimated_duration_seconds: int = Field(description="Learned from this persona's recent runs.")
    poll_command: str = Field(description="The call to make next.")
    message: str


class JobProgress(BaseModel):
    phase: str
    percent_complete: int
    message: str
    eta_seconds: int | None = None
    tool_calls_completed: int = 0


class TokensUsed(BaseModel):
    input: int = 0
    output: int = 0


class JobReport(BaseModel):
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
    findings: list[dict[str, Any]] | None = None
    duration_seconds: float | None = None
    tool_calls_made: int | None = None
    tokens_used: TokensUsed | None = None
    error: str | None = None
    partial_result: str | None = None
    next_step: str = Field(description="What the calling assistant should do now.")

    @classmethod
    def from_state(cls, job: JobState, now: float | None = None) -> JobReport:
        now = time.time() if now is None else now
        base: dict[str, Any] = {"status": job.status, "job_id": job.id, "persona": job.persona, "task": job.task}
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
            return cls(
                **base,
                result=job.result,
                mode=job.mode,
                findings=job.findings,
                duration_seconds=job.duration_seconds,
                tool_calls_made=job.tool_calls_made,
                tokens_used=TokensUsed(input=job.tokens_input or 0, output=job.tokens_output or 0),
                next_step=(
                    "Apply this briefing yourself: it lists the checks and standards to use."
                    if job.mode == "briefing"
                    else "Show the review to the user; cite the standards it references."
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
