"""MCP logging per session: ``logging/setLevel``, and the lifecycle of each job sent as log
notifications to the session that started it (handshake-era sessions: 2025-11-25 and older).

From protocol 2026-07-28 on, log delivery is request-scoped only (a per-request ``_meta`` opt-in)
and such a session has no channel for messages between requests, so nothing is followed there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, get_args

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession
from mcp.types import (
    EmptyResult,
    LoggingLevel,
    LoggingMessageNotification,
    LoggingMessageNotificationParams,
    SetLevelRequestParams,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_server.sdk_compat import connection_state, lowlevel
from worker.errors import MAX_WAIT_SECONDS, UnknownJobError
from worker.models import JobState, JobStatus

if TYPE_CHECKING:
    from worker.service import JobService

log = logging.getLogger(__name__)

LEVELS: tuple[LoggingLevel, ...] = get_args(LoggingLevel)
"""debug … emergency, least to most severe (the order the literal declares)."""
LEVEL_KEY = "agent-personas.log_level"
DEFAULT_LEVEL: LoggingLevel = "info"
"""Until a client sets a level, lifecycle events (info and up) are sent; progress (debug) is not."""
LOGGER = "agent-personas.jobs"
MAX_FOLLOWED = 256
"""Jobs followed at once per server; beyond that a job runs unfollowed (logged on stderr)."""


def register_logging(server: MCPServer[Any]) -> None:
    lowlevel(server).add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)


async def set_level(ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams) -> EmptyResult:
    """Remember the session's level: messages below it are not sent to that session."""
    connection_state(ctx.session)[LEVEL_KEY] = params.level
    return EmptyResult()


def wants(session: ServerSession, level: LoggingLevel) -> bool:
    threshold = connection_state(session).get(LEVEL_KEY, DEFAULT_LEVEL)
    return LEVELS.index(level) >= LEVELS.index(threshold)


def _event(job: JobState) -> tuple[LoggingLevel, dict[str, Any]]:
    severity: dict[JobStatus, LoggingLevel] = {JobStatus.FAILED: "error", JobStatus.CANCELLED: "warning"}
    level = severity.get(job.status, "info")
    data: dict[str, Any] = {"event": f"job.{job.status.value}", "job_id": job.id, "persona": job.persona}
    if job.status is JobStatus.RUNNING or job.status is JobStatus.PENDING:
        data.update(percent=job.progress_percent, message=job.progress_message)
    if job.error:
        data["error"] = job.error
    return level, data


class JobEvents:
    """Follows jobs started over MCP and logs their status changes (info; failed: error; cancelled:
    warning) and progress (debug) to the session that started each one, at that session's level."""

    def __init__(self, jobs: JobService, *, max_seconds: float) -> None:
        self._jobs = jobs
        self._max_seconds = max_seconds
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    @asynccontextmanager
    async def running(cls, jobs: JobService, *, max_seconds: float) -> AsyncIterator[JobEvents]:
        events = cls(jobs, max_seconds=max_seconds)
        try:
            yield events
        finally:
            for task in events._tasks:
                task.cancel()
            await asyncio.gather(*events._tasks, return_exceptions=True)

    def follow(self, session: ServerSession, job_id: str) -> None:
        if session.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        if len(self._tasks) >= MAX_FOLLOWED:
            log.warning("not following job %s over MCP logging: %d jobs followed already", job_id, MAX_FOLLOWED)
            return
        task = asyncio.create_task(self._follow(session, job_id), name=f"job-events-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow(self, session: ServerSession, job_id: str) -> None:
        seen: JobStatus | None = None

        async def on_change(job: JobState) -> None:
            nonlocal seen
            level, data = _event(job)
            if job.status is seen:
                level = "debug"  # progress within the same status
            seen = job.status
            await _send(session, level, data)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_seconds
        try:
            while loop.time() < deadline:
                report = await self._jobs.wait(job_id, min(MAX_WAIT_SECONDS, deadline - loop.time()), on_change)
                if report.status.terminal:
                    return
        except UnknownJobError:
            return  # deleted meanwhile (reset_persona_jobs)


async def _send(session: ServerSession, level: LoggingLevel, data: dict[str, Any]) -> None:
    if not wants(session, level):
        return
    # send_notification, not the deprecated send_log_message: this server decides per session.
    await session.send_notification(
        LoggingMessageNotification(params=LoggingMessageNotificationParams(level=level, logger=LOGGER, data=data))
    )
