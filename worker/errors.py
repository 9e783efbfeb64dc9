"""What the job system answers a caller it cannot serve, and the longest a caller may wait.

Its own light module (no Redis, no store): the MCP layer names these in its tools, and the server
answers ``tools/list`` before the job system is imported.
"""

from __future__ import annotations

#: The longest one ``wait`` call blocks before it answers with the job as it is.
MAX_WAIT_SECONDS = 50.0


class JobRequestError(ValueError):
    """The caller can fix this request; the message says how."""


class JobStorageError(JobRequestError):
    """The job database cannot take the write (disk full, read-only, permission): the message names
    the file, the cause and the fix. A JobRequestError so every tool answers it as a tool error."""


class UnknownJobError(LookupError):
    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"No job with id {job_id!r}. Use the job_id returned by an invoke_* tool "
            "(list_persona_jobs shows recent ones); old jobs are removed by retention."
        )


class QueueUnavailableError(RuntimeError):
    """Redis cannot be reached; the message says where and what to do."""
