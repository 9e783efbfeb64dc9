"""JobService: the domain operations behind the job tools. No MCP here.

submit / check / wait / cancel live here; list, stats and reset in :mod:`worker.ops`. One concern
(the job lifecycle as the tools see it), a little over 400 lines.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from personas.changes import DEFAULT_MAX_DIFF_CHARS, ChangesError, resolve_changes
from personas.changes.supplied import SuppliedCodeError
from personas.registry import PersonaRegistry, UnknownPersonaError
from personas.runtime.review import SEVERITY_ORDER
from standards.db import StoreError
from worker import events, ops
from worker.client_code import ClientCode, ClientCodeOptions, prepare_client_code
from worker.dismissals import DismissalStore
from worker.errors import MAX_WAIT_SECONDS, JobRequestError, JobStorageError, QueueUnavailableError, UnknownJobError
from worker.job_files import delete_job_files, save_job_files
from worker.models import (
    CancelResult,
    DatabaseStats,
    InvokeResult,
    JobFinish,
    JobList,
    JobReport,
    JobState,
    JobStatus,
    Priority,
    ResetResult,
)
from worker.options import JobOptions
from worker.panel import initial_runs
from worker.queue import JobQueue
from worker.storage_errors import storage_problem
from worker.store import JobStore

log = logging.getLogger(__name__)

PANEL_PERSONA = "panel"
"""The ``persona`` of a panel job; its personas are in ``JobState.panel``."""
MIN_PANEL = 2
MAX_PANEL = 6

T = TypeVar("T")

PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high")
CANCEL_CONFIRM_SECONDS = 2.0

ProgressCallback = Callable[[JobState], Awaitable[None]]


def utc_day_start(now: float) -> float:
    return datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def utc_day(now: float) -> str:
    """The UTC calendar day of ``now`` as ``YYYY-MM-DD`` (the quota's unit)."""
    return datetime.fromtimestamp(now, UTC).date().isoformat()


def _ago(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 7200:
        return f"{seconds // 60} minutes"
    return f"{seconds // 3600} hours"


class JobService:
    def __init__(
        self,
        store: JobStore,
        queue: JobQueue,
        personas: PersonaRegistry,
        *,
        max_context_chars: int,
        options: JobOptions | None = None,
        project_root: Path | None = None,
        denied_paths: Sequence[Path] = (),
        max_diff_chars: int = DEFAULT_MAX_DIFF_CHARS,
        dismissals: DismissalStore | None = None,
        client_code: ClientCodeOptions | None = None,
    ) -> None:
        self.store = store
        self.queue = queue
        self.personas = personas
        self.max_context_chars = max_context_chars
        self.options = options or JobOptions()
        self.project_root = project_root or Path.cwd()
        self.denied_paths = tuple(denied_paths)
        self.max_diff_chars = max_diff_chars
        self.dismissals = dismissals
        self.client_code = client_code or ClientCodeOptions()

    async def review_fields(
        self, changes: str | None, min_severity: str | None, cited_only: bool, code: ClientCode | None = None
    ) -> tuple[dict[str, Any], dict[str, str] | None]:
        """The job fields of a change review (``changes`` resolved now, in the project root, with git, or
        the client's diff parsed), and the files a remote client sent, to store with the job."""
        if min_severity is not None and min_severity not in SEVERITY_ORDER:
            raise JobRequestError(f"min_severity must be one of {', '.join(SEVERITY_ORDER)}; got {min_severity!r}.")
        fields: dict[str, Any] = {"min_severity": min_severity, "cited_only": cited_only}
        if code is not None and code.given:
            try:
                # parsing 2 MB of diff can take seconds: off the loop
                files, fields["changes"] = await asyncio.to_thread(
                    prepare_client_code,
                    code,
                    self.client_code,
                    changes=changes,
                    project_root=self.project_root,
                    max_diff_chars=self.max_diff_chars,
                )
            except SuppliedCodeError as exc:
                raise JobRequestError(str(exc)) from exc
            return fields, files
        if changes is not None:
            try:
                resolved = await resolve_changes(
                    self.project_root, changes, max_diff_chars=self.max_diff_chars, denied=self.denied_paths
                )
            except ChangesError as exc:
                raise JobRequestError(str(exc)) from exc
            fields["changes"] = resolved.model_dump(mode="json")
        return fields, None

    # ---- submit / check -------------------------------------------------------------------

    async def submit(
        self,
        persona_id: str,
        task: str,
        context: str | None = None,
        priority: str = "normal",
        follow_up_of: str | None = None,
        *,
        changes: str | None = None,
        min_severity: str | None = None,
        cited_only: bool = False,
        code: ClientCode | None = None,
    ) -> InvokeResult:
        try:
            persona = self.personas.get(persona_id)
        except UnknownPersonaError as exc:
            raise JobRequestError(str(exc)) from exc
        task, context, level = self._checked(task, context, priority)
        if follow_up_of:
            await self._check_follow_up(persona.id, follow_up_of.strip())
        review, files = await self.review_fields(changes, min_severity, cited_only, code)
        job = JobState(
            persona=persona.id,
            task=task,
            context=context,
            priority=level,
            follow_up_of=follow_up_of or None,
            **review,
        )
        return await self._start(job, persona.name, files)

    async def submit_panel(
        self,
        persona_ids: Sequence[str],
        task: str,
        context: str | None = None,
        priority: str = "normal",
        *,
        changes: str | None = None,
        min_severity: str | None = None,
        cited_only: bool = False,
        code: ClientCode | None = None,
    ) -> InvokeResult:
        """Start a panel: the personas review the same task concurrently as one job."""
        ids = list(dict.fromkeys(p.strip() for p in persona_ids if p and p.strip()))
        if not MIN_PANEL <= len(ids) <= MAX_PANEL:
            raise JobRequestError(
                f"A panel needs {MIN_PANEL} to {MAX_PANEL} different personas; got {len(ids)} "
                f"({', '.join(ids) or 'none'}). For one persona call its invoke_* tool."
            )
        try:
            members = [self.personas.get(p) for p in ids]
        except UnknownPersonaError as exc:
            raise JobRequestError(str(exc)) from exc
        task, context, level = self._checked(task, context, priority)
        review, files = await self.review_fields(changes, min_severity, cited_only, code)
        job = JobState(
            persona=PANEL_PERSONA,
            task=task,
            context=context,
            priority=level,
            panel=[m.id for m in members],
            panel_runs=initial_runs([m.id for m in members]),
            **review,
        )
        return await self._start(job, "The panel (" + ", ".join(m.name for m in members) + ")", files)

    def _checked(self, task: str, context: str | None, priority: str) -> tuple[str, str | None, Priority]:
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
        return task, context, priority

    async def _start(self, job: JobState, name: str, files: dict[str, str] | None = None) -> InvokeResult:
        """Insert the job (within the daily limit) with the files a client sent, and queue it."""
        limit = self.options.daily_job_limit
        day_start = utc_day_start(job.created_at)
        day = utc_day(job.created_at)
        if not await self._storing(self.store.count_accepted(job.persona, day, limit=limit)):
            reset_in = timedelta(seconds=round(day_start + 86_400 - time.time()))
            raise JobRequestError(
                f"Daily limit reached: the {job.persona} persona already started {limit} jobs today "
                f"(PERSONAS_DAILY_JOB_LIMIT={limit}). The count resets at 00:00 UTC (in {reset_in}); "
                "ask whoever runs this server to raise the limit if you need more."
            )
        accepted = False
        try:
            if files is not None:  # first: a stored job is never run without the files it came with
                await self._storing(save_job_files(self.store, job.id, files))
            try:
                await self._storing(self.store.insert(job))
            except JobStorageError:
                if files is not None:
                    await delete_job_files(self.store, job.id)
                raise
            try:
                await self.queue.enqueue(job.id, job.priority)
            except QueueUnavailableError as exc:
                await self.store.finish(job.id, JobFinish.failed(str(exc)))
                raise
            accepted = True
        finally:
            if not accepted:  # only accepted jobs count against the quota
                await self.store.uncount_accepted(job.persona, day)
        estimate = await self.estimate_seconds(job.persona)
        return InvokeResult(
            job_id=job.id,
            persona=job.persona,
            estimated_duration_seconds=estimate,
            # wait_for_persona_job is in every tool profile; check_persona_job only in ops and all.
            poll_command=f"wait_for_persona_job(job_id='{job.id}')",
            message=f"{name} started (about {estimate} s). Call wait_for_persona_job(job_id='{job.id}') "
            "until it finishes: it returns as soon as the job does, or with its progress to show meanwhile.",
        )

    async def _storing(self, write: Awaitable[T]) -> T:
        """Await a store write; a full or read-only disk becomes a clear JobStorageError."""
        try:
            return await write
        except StoreError as exc:  # PostgreSQL unreachable or restarting: the message names it
            log.error("job not recorded: %s", exc)
            raise JobStorageError(
                f"The job was not started: {exc}. Invoke the persona again once the database answers."
            ) from exc
        except (sqlite3.Error, OSError) as exc:
            path = getattr(self.store, "path", None)
            message = storage_problem(path if isinstance(path, Path) else Path("the job database"), exc)
            log.error("job not recorded: %s", message)
            raise JobStorageError(f"The job was not started: {message} Then invoke the persona again.") from exc

    async def _check_follow_up(self, persona_id: str, parent_id: str) -> None:
        parent = await self.store.get(parent_id)
        if parent is None:
            raise JobRequestError(f"follow_up_of: no job with id {parent_id!r}.")
        if parent.persona != persona_id:
            raise JobRequestError(
                f"follow_up_of: job {parent_id} was a {parent.persona} run; continue it with invoke_{parent.persona}."
            )
        if not parent.status.terminal:
            raise JobRequestError(
                f"follow_up_of: job {parent_id} is still {parent.status.value}; wait for it to finish first."
            )
        if await self.store.conversation(parent_id) is None:
            raise JobRequestError(
                f"follow_up_of: job {parent_id} has no conversation to continue (it was a briefing or failed "
                "before the model answered); invoke the persona without follow_up_of."
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
        return max(1, round(await self.store.estimate_seconds(persona_id)))

    # ---- wait -----------------------------------------------------------------------------

    async def wait(self, job_id: str, timeout_seconds: float, on_progress: ProgressCallback | None = None) -> JobReport:
        """Return as soon as the job finishes, or after ``timeout_seconds`` (at most 50) with its
        progress. Wakes on the workers' Redis notifications, not by polling the database."""
        timeout_seconds = min(max(timeout_seconds, 0.0), MAX_WAIT_SECONDS)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        seen: tuple[object, ...] | None = None
        async with events.listen(self.queue.pool, job_id.strip()) as wake:
            while True:
                job = await self.get(job_id)
                state = (job.status, job.progress_percent, job.progress_message)
                if on_progress is not None and state != seen:
                    await on_progress(job)
                seen = state
                remaining = deadline - loop.time()
                if job.status.terminal or remaining <= 0:
                    break
                await wake(remaining)
        report = JobReport.from_state(job)
        if not job.status.terminal:
            report.next_step = (
                f"Still {job.status.value}; call wait_for_persona_job again (or check_persona_job later)."
            )
        return report

    # ---- cancel ---------------------------------------------------------------------------

    async def cancel(self, job_id: str, *, confirm_seconds: float = CANCEL_CONFIRM_SECONDS) -> CancelResult:
        """Cancel a pending or running job. A pending job never starts; a running one stops within
        a second (arq abort) and keeps the partial result its last progress update stored. A
        finished job is left unchanged."""
        job = await self.get(job_id)
        now = time.time()
        if job.status.terminal or not await self.store.finish(
            job.id, JobFinish.cancelled("Cancelled by request (cancel_persona_job).")
        ):
            return self._already_finished(await self.get(job.id), now)
        note = await self._stop_delivery(job, confirm_seconds)
        await events.publish(self.queue.pool, job.id, "cancelled")
        final = await self.get(job.id)
        if final.started_at is None:
            message = f"Job cancelled before it started (it waited {_ago(now - job.created_at)} in the queue)."
        elif note:
            message = f"Job marked cancelled after {_ago(now - final.started_at)} of running, but not stopped yet."
        else:
            message = f"Job cancelled after {_ago(now - final.started_at)}."
        return CancelResult(
            status=JobStatus.CANCELLED,
            job_id=job.id,
            cancelled=True,
            partial_result=final.partial_result,
            message=message + note,
        )

    def _already_finished(self, job: JobState, now: float) -> CancelResult:
        ended = f" {_ago(now - job.completed_at)} ago" if job.completed_at else ""
        return CancelResult(
            status=job.status,
            job_id=job.id,
            cancelled=False,
            partial_result=job.partial_result,
            message=f"Job already {job.status.value}{ended}; nothing was changed.",
        )

    async def _stop_delivery(self, job: JobState, confirm_seconds: float) -> str:
        """Stop the job's queue delivery; for a running job, wait briefly for its worker to let go.
        Returns "" when it is stopped, else when it will stop (so the reply never claims too much)."""
        heartbeat = f"within {self.options.heartbeat_seconds:.0f} s (PERSONAS_JOB_LEASE_SECONDS / 3)"
        try:
            outcome = await self.queue.stop(job.queue_job_id or job.id)
        except QueueUnavailableError as exc:
            log.warning("cancel %s: %s", job.id, exc)
            return (
                " Redis is unreachable, so the worker could not be told at once; it stops at its next "
                f"lease heartbeat, {heartbeat}."
            )
        if outcome == "removed" or (outcome == "absent" and job.status is not JobStatus.RUNNING):
            return ""
        if await self._released(job.id, confirm_seconds):
            return ""
        if outcome == "aborted":
            return f" Its worker has not confirmed yet; it stops at its next poll or lease heartbeat, {heartbeat}."
        owner = job.lease_owner or "its worker"
        return (
            f" The job runs on {owner}, which this server's Redis does not reach; it stops at that worker's "
            f"next lease heartbeat, {heartbeat}."
        )

    async def released(self, job_id: str, within: float) -> bool:
        """Wait (up to ``within`` s) until no worker holds the job; False if one still does."""
        return await self._released(job_id, within)

    async def _released(self, job_id: str, within: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        async with events.listen(self.queue.pool, job_id) as wake:
            while True:
                job = await self.store.get(job_id)
                if job is None or job.lease_expires_at is None or job.lease_expires_at < time.time():
                    return True
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                await wake(remaining)

    # ---- ops (worker/ops.py) --------------------------------------------------------------

    async def list_jobs(self, *, status: str | None = None, persona: str | None = None, limit: int = 10) -> JobList:
        try:
            return await ops.list_jobs(self.store, status=status, persona=persona, limit=limit)
        except ValueError as exc:
            raise JobRequestError(str(exc)) from exc

    async def stats(self) -> DatabaseStats:
        dismissed = await self.dismissals.counts_by_persona() if self.dismissals else None
        return await ops.database_stats(self.store, self.options, dismissed=dismissed)

    async def reset(self) -> ResetResult:
        return await ops.reset(self.store, self.queue)
