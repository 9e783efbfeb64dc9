"""The arq job function: run one persona job and record the outcome in the job store.

A run holds a lease on its job row (``lease_owner``, ``lease_expires_at``) and renews it every
lease/3 while the persona works. How a run can end:

- finished: complete or failed, written only while this worker still holds the lease;
- cancelled (``cancel_persona_job``): the row is already ``cancelled`` when arq's abort reaches us;
  we stop, the partial result stays as the last progress update left it;
- lease lost (the row was cancelled or re-queued without us hearing of it): the heartbeat stops
  the run;
- worker shutting down: the job goes back to ``pending`` (arq delivers it again), or fails once it
  used up PERSONAS_JOB_MAX_ATTEMPTS;
- worker killed: nothing runs here; the lease lapses and a recovery loop re-queues or fails it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.asyncio import Redis

from personas.changes import ChangeSet
from personas.model import PersonaDefinition
from personas.registry import PersonaRegistry, UnknownPersonaError
from personas.runtime import (
    LLMConfig,
    PersonaRunError,
    ProgressSink,
    ProgressUpdate,
    RunOutcome,
    RunRequest,
    RunToolbox,
    SharedClient,
    run_persona,
)
from standards.db import STORE_ERRORS
from worker import events
from worker.dismissals import DismissalStore
from worker.job_files import load_job_files
from worker.models import JobFinish, JobState, JobStatus
from worker.options import JobOptions
from worker.panel import execute_panel
from worker.store import JobStore
from worker.webhook import WebhookSender

log = logging.getLogger(__name__)
T = TypeVar("T")


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class WorkerDeps:
    """What a job needs; built once per worker process and carried in arq's ``ctx``."""

    store: JobStore
    personas: PersonaRegistry
    llm: LLMConfig
    job_timeout_seconds: float
    options: JobOptions = field(default_factory=JobOptions)
    worker_id: str = field(default_factory=new_worker_id)
    toolbox: RunToolbox | None = None
    """Project root, standards search, proposal store and limits for the runs."""
    client: SharedClient | None = None
    """One Anthropic client shared by this worker's runs (closed by whoever built the deps)."""
    dismissals: DismissalStore | None = None
    """Findings the team dismissed: dropped from later runs and listed to the persona."""


def deps_from(ctx: dict[str, Any]) -> WorkerDeps:
    deps = ctx["deps"]
    assert isinstance(deps, WorkerDeps)
    return deps


async def build_request(deps: WorkerDeps, job: JobState) -> RunRequest:
    history = await deps.store.conversation(job.follow_up_of) if job.follow_up_of else None
    personas = job.panel or [job.persona]
    dismissed = await deps.dismissals.for_personas(personas) if deps.dismissals else []
    dismissed_ids = sorted(await deps.dismissals.fingerprints(personas)) if deps.dismissals else []
    changes = ChangeSet.model_validate(job.changes) if job.changes else None
    return RunRequest(
        job_id=job.id,
        task=job.task,
        context=job.context,
        history=history,
        changes=changes,
        supplied_files=await _client_files(deps, job, changes),
        min_severity=job.min_severity,
        cited_only=job.cited_only,
        dismissed=dismissed,
        dismissed_ids=dismissed_ids,
    )


async def _client_files(deps: WorkerDeps, job: JobState, changes: ChangeSet | None) -> dict[str, str] | None:
    """The files a remote client sent with the job (or with the job it follows up), from the database."""
    files = await load_job_files(deps.store, job.id)
    if files is None and job.follow_up_of:
        files = await load_job_files(deps.store, job.follow_up_of)
    if files is None and changes is not None and changes.kind == "supplied":
        files = {}  # a client's diff is never read against this server's disk
    return files


async def execute_run(deps: WorkerDeps, persona: PersonaDefinition, job: JobState, report: ProgressSink) -> RunOutcome:
    """The one place a persona run is started: build the request, call the runtime."""
    request = await build_request(deps, job)
    outcome = await run_persona(persona, request, deps.llm, report, deps.toolbox, client=deps.client)
    if outcome.messages:
        messages = outcome.messages
        await stored(deps, f"the transcript of job {job.id}", lambda: deps.store.save_conversation(job.id, messages))
    return outcome


async def stored(deps: WorkerDeps, what: str, write: Callable[[], Awaitable[T]]) -> T:
    """A store write that rides out a database restart: retried with backoff for up to a lease
    period (the heartbeat keeps the job ours meanwhile), then the error is raised."""
    delay = 0.2
    deadline = time.monotonic() + max(5.0, deps.options.lease_seconds)
    while True:
        try:
            return await write()
        except STORE_ERRORS as exc:
            if time.monotonic() >= deadline:
                raise
            log.warning("job store unavailable while writing %s (%s); retrying in %.1f s", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def _finish(deps: WorkerDeps, job_id: str, update: JobFinish) -> bool:
    return await stored(
        deps, f"the end of job {job_id}", lambda: deps.store.finish(job_id, update, owner=deps.worker_id)
    )


async def run_persona_job(ctx: dict[str, Any], job_id: str) -> str:
    """Run the job ``job_id``; returns what happened. Idempotent: a job that is finished, or alive
    on another worker, is left alone ("skipped")."""
    deps = deps_from(ctx)
    redis: Redis | None = ctx.get("redis")
    owner = deps.worker_id
    job = await deps.store.claim(
        job_id,
        owner=owner,
        lease_seconds=deps.options.lease_seconds,
        queue_job_id=str(ctx.get("job_id", job_id)),
    )
    if job is None:
        log.info("job %s is gone, finished or running elsewhere; skipping delivery %s", job_id, ctx.get("job_id"))
        return "skipped"
    if redis is not None:
        await events.publish(redis, job_id, "running")

    runner = asyncio.create_task(_run(deps, job, redis), name=f"persona-run-{job_id}")
    keeper = asyncio.create_task(_keep_lease(deps, job_id, runner), name=f"lease-{job_id}")
    try:
        return await runner
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            await _stopped_from_outside(deps, job_id)
            raise
        return "stopped"  # the heartbeat found the job no longer ours and stopped the run
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
        # Not shielded: a shielded write would run detached after the worker closed its connections.
        await _after_run(deps, job_id, redis, ctx.get("webhooks"))


async def _execute(
    deps: WorkerDeps, job: JobState, members: list[PersonaDefinition], report: ProgressSink
) -> dict[str, Any]:
    """Run the job's persona, or its panel; the fields of the completed job."""
    if not job.panel:
        outcome = await execute_run(deps, members[0], job, report)
        return {
            "result": outcome.result,
            "mode": outcome.mode,
            "findings": outcome.findings,
            "proposals": outcome.proposals or None,
            "tokens_input": outcome.tokens_input,
            "tokens_output": outcome.tokens_output,
            "tool_calls_made": outcome.tool_calls,
            "persona_version": outcome.persona_version,
            "prompt_hash": outcome.prompt_hash,
        }

    async def run(persona: PersonaDefinition, request: RunRequest, progress: ProgressSink) -> RunOutcome:
        return await run_persona(persona, request, deps.llm, progress, deps.toolbox, client=deps.client)

    async def sink(update: ProgressUpdate, runs: list[dict[str, Any]]) -> None:
        await deps.store.update_panel_runs(job.id, runs, owner=deps.worker_id)
        await report(update)

    panel = await execute_panel(members, await build_request(deps, job), run, sink)
    return {
        "result": panel.result,
        "mode": "review",
        "findings": panel.findings,
        "proposals": panel.proposals or None,
        "tokens_input": panel.tokens_input,
        "tokens_output": panel.tokens_output,
        "tool_calls_made": panel.tool_calls,
        "panel_runs": panel.runs,
    }


async def _run(deps: WorkerDeps, job: JobState, redis: Redis | None) -> str:
    owner = deps.worker_id
    try:
        members = [deps.personas.get(p) for p in (job.panel or [job.persona])]
    except UnknownPersonaError as exc:
        await _finish(deps, job.id, JobFinish.failed(str(exc)))
        return JobStatus.FAILED.value
    estimate = await deps.store.estimate_seconds(job.persona)
    started = time.monotonic()

    async def report(update: ProgressUpdate) -> None:
        if update.eta_seconds is None:
            update = update.model_copy(update={"eta_seconds": max(1, round(estimate - (time.monotonic() - started)))})
        try:
            await deps.store.update_progress(job.id, update, owner=owner)
        except STORE_ERRORS as exc:  # progress is best effort; the result is what must land
            log.warning("job %s: progress not recorded (%s)", job.id, exc)
            return
        if redis is not None:
            await events.publish(redis, job.id, "progress")

    try:
        async with asyncio.timeout(deps.job_timeout_seconds):
            fields = await _execute(deps, job, members, report)
    except TimeoutError:
        await _finish(
            deps,
            job.id,
            JobFinish.failed(
                f"The run exceeded the job timeout of {deps.job_timeout_seconds:g} s "
                "(PERSONAS_JOB_TIMEOUT_SECONDS); narrow the task or raise the timeout."
            ),
        )
        return JobStatus.FAILED.value
    except PersonaRunError as exc:
        # Transient errors (429/529/5xx/timeouts) were already retried with backoff by the client.
        await _finish(deps, job.id, JobFinish.failed(str(exc), partial_result=exc.partial_result))
        return JobStatus.FAILED.value
    except STORE_ERRORS as exc:
        # The database, not the run: leave the job leased; when the lease lapses it runs again.
        log.warning("job %s: the job store stayed unavailable (%s); it runs again after its lease", job.id, exc)
        raise
    except Exception as exc:
        # A bug, not a user error: keep the traceback in the log and never leave the job running.
        log.exception("job %s crashed", job.id)
        await _finish(
            deps,
            job.id,
            JobFinish.failed(
                f"Internal error in the persona run ({type(exc).__name__}: {exc}). "
                "This is a bug in agent-personas; the worker log has the traceback."
            ),
        )
        return JobStatus.FAILED.value
    complete = JobFinish(
        status=JobStatus.COMPLETE,
        duration_seconds=round(time.monotonic() - started, 3),
        **fields,
    )
    await _finish(deps, job.id, complete)
    return JobStatus.COMPLETE.value


async def _keep_lease(deps: WorkerDeps, job_id: str, runner: asyncio.Task[str]) -> None:
    """Renew the lease every lease/3; stop the run when the job is no longer ours."""
    while not runner.done():
        await asyncio.sleep(deps.options.heartbeat_seconds)
        try:
            held = await deps.store.renew_lease(job_id, owner=deps.worker_id, lease_seconds=deps.options.lease_seconds)
        except STORE_ERRORS as exc:
            log.warning("job %s: could not renew the lease (%s); retrying", job_id, exc)
            continue
        if not held and not runner.done():
            log.info("job %s is no longer ours (cancelled or re-queued); stopping the run", job_id)
            runner.cancel()
            return


async def _stopped_from_outside(deps: WorkerDeps, job_id: str) -> None:
    """Our task was cancelled: an abort (the row is already cancelled: nothing to do) or the worker
    shutting down (hand the job back, or fail it if it has used up its attempts)."""
    job = await deps.store.get(job_id)
    if job is None or job.status is not JobStatus.RUNNING or job.lease_owner != deps.worker_id:
        return
    if job.attempts >= deps.options.max_attempts:
        await deps.store.finish(
            job_id,
            JobFinish.failed(
                f"The worker stopped while running this job, {job.attempts} times "
                f"(PERSONAS_JOB_MAX_ATTEMPTS={deps.options.max_attempts}). Invoke the persona again."
            ),
            owner=deps.worker_id,
        )
        return
    await deps.store.requeue(job_id, owner=deps.worker_id, message="Re-queued: the worker shut down")
    log.info("job %s handed back to the queue (worker shutting down)", job_id)


async def _after_run(deps: WorkerDeps, job_id: str, redis: Redis | None, webhooks: object) -> None:
    await deps.store.release(job_id, owner=deps.worker_id)
    if redis is not None:
        await events.publish(redis, job_id, "released")
    if isinstance(webhooks, WebhookSender):
        await webhooks.claim_and_schedule(job_id)
