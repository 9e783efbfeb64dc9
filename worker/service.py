"""JobService: the domain operations behind the job tools (submit, check). No MCP here."""

from __future__ import annotations

import logging
import statistics

from personas.registry import PersonaRegistry, UnknownPersonaError
from worker.models import InvokeResult, JobReport, JobState, JobStatus, Priority
from worker.queue import JobQueue, QueueUnavailableError
from worker.store import JobStore

log = logging.getLogger(__name__)

DEFAULT_ESTIMATE_SECONDS = 45
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high")


class JobRequestError(ValueError):
    """The caller can fix this request; the message says how."""


class UnknownJobError(LookupError):
    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"No job with id {job_id!r}. Use the job_id returned by an invoke_* tool "
            "(list_persona_jobs shows recent ones); old jobs are removed by retention."
        )


class JobService:
    def __init__(
        self, store: JobStore, queue: JobQueue, personas: PersonaRegistry, *, max_context_chars: int
    ) -> None:
        self.store = store
        self.queue = queue
        self.personas = personas
        self.max_context_chars = max_context_chars

    async def submit(
        self, persona_id: str, task: str, context: str | None = None, priority: str = "normal"
    ) -> InvokeResult:
        try:
            persona = self.personas.get(persona_id)
        except UnknownPersonaError as exc:
            raise JobRequestError(str(exc)) from exc
        task = task.strip()
        if not task:
            raise JobRequestError("task must not be empty: say what the persona should review or design.")
        if priority not in PRIORITIES:
            raise JobRequestError(f"priority must be one of {', '.join(PRIORITIES)}; got {priority!r}.")
        context = context if context and context.strip() else None
        size = len(task) + len(context or "")
        if size > self.max_context_chars:
            raise JobRequestError(
                f"task + context is {size:,} characters; the cap is {self.max_context_chars:,} "
                "(PERSONAS_MAX_CONTEXT_CHARS). Pass file paths in context instead of file contents, "
                "or split the review."
            )
        job = JobState(persona=persona.id, task=task, context=context, priority=priority)  # type: ignore[arg-type]
        await self.store.insert(job)
        try:
            await self.queue.enqueue(job.id, job.priority)
        except QueueUnavailableError as exc:
            await self.store.finish(job.id, JobStatus.FAILED, error=str(exc))
            raise
        estimate = await self.estimate_seconds(persona.id)
        return InvokeResult(
            job_id=job.id,
            persona=persona.id,
            estimated_duration_seconds=estimate,
            poll_command=f"check_persona_job(job_id='{job.id}')",
            message=f"{persona.name} started (about {estimate} s). Poll check_persona_job every few seconds.",
        )

    async def check(self, job_id: str) -> JobReport:
        job = await self.get(job_id)
        return JobReport.from_state(job)

    async def get(self, job_id: str) -> JobState:
        job_id = job_id.strip()
        job = await self.store.get(job_id) if job_id else None
        if job is None:
            raise UnknownJobError(job_id)
        return job

    async def estimate_seconds(self, persona_id: str) -> int:
        durations = await self.store.recent_durations(persona_id)
        if not durations:
            return DEFAULT_ESTIMATE_SECONDS
        return max(1, round(statistics.median(durations)))
