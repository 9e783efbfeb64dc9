"""The arq job function: run one persona job and record the outcome in the job store."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from personas.registry import PersonaRegistry, UnknownPersonaError
from personas.runtime import LLMConfig, PersonaRunError, ProgressUpdate, RunRequest, run_persona
from worker.models import JobStatus
from worker.store import JobStore

log = logging.getLogger(__name__)


@dataclass
class WorkerDeps:
    """What a job needs; built once per worker process and carried in arq's ``ctx``."""

    store: JobStore
    personas: PersonaRegistry
    llm: LLMConfig
    job_timeout_seconds: float


def deps_from(ctx: dict[str, Any]) -> WorkerDeps:
    deps = ctx["deps"]
    assert isinstance(deps, WorkerDeps)
    return deps


async def run_persona_job(ctx: dict[str, Any], job_id: str) -> str:
    """Run the job ``job_id``; returns its final status. Idempotent: a terminal job is left alone."""
    deps = deps_from(ctx)
    job = await deps.store.mark_running(job_id)
    if job is None:
        log.info("job %s is gone or already finished; skipping", job_id)
        return "skipped"
    started = time.time()
    try:
        persona = deps.personas.get(job.persona)
    except UnknownPersonaError as exc:
        await deps.store.finish(job_id, JobStatus.FAILED, error=str(exc))
        return JobStatus.FAILED.value

    async def report(update: ProgressUpdate) -> None:
        await deps.store.update_progress(job_id, update)

    request = RunRequest(job_id=job.id, task=job.task, context=job.context)
    try:
        async with asyncio.timeout(deps.job_timeout_seconds):
            outcome = await run_persona(persona, request, deps.llm, report)
    except TimeoutError:
        current = await deps.store.get(job_id)
        await deps.store.finish(
            job_id,
            JobStatus.FAILED,
            error=f"The run exceeded the job timeout of {deps.job_timeout_seconds:g} s "
            "(PERSONAS_JOB_TIMEOUT_SECONDS); narrow the task or raise the timeout.",
            partial_result=current.partial_result if current else None,
        )
        return JobStatus.FAILED.value
    except PersonaRunError as exc:
        await deps.store.finish(job_id, JobStatus.FAILED, error=str(exc), partial_result=exc.partial_result)
        return JobStatus.FAILED.value
    except Exception as exc:
        # A bug, not a user error: keep the traceback in the log and never leave the job running.
        log.exception("job %s crashed", job_id)
        await deps.store.finish(
            job_id,
            JobStatus.FAILED,
            error=f"Internal error in the persona run ({type(exc).__name__}: {exc}). "
            "This is a bug in agent-personas; the worker log has the traceback.",
        )
        return JobStatus.FAILED.value
    await deps.store.finish(
        job_id,
        JobStatus.COMPLETE,
        result=outcome.result,
        mode=outcome.mode,
        findings=outcome.findings,
        tokens_input=outcome.tokens_input,
        tokens_output=outcome.tokens_output,
        tool_calls_made=outcome.tool_calls,
        persona_version=outcome.persona_version,
        prompt_hash=outcome.prompt_hash,
        duration_seconds=round(time.time() - started, 3),
    )
    return JobStatus.COMPLETE.value
