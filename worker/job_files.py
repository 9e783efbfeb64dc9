"""The files a remote client sent with a job (``files``), in the system of record.

They live in the ``job_files`` table of the job database (SQLite or Postgres), not on a worker's
disk, so they survive a worker restart and reach a worker on another host; a trigger deletes them
with their job (reset, retention). All of this table's SQL is here.
"""

from __future__ import annotations

import json

from worker.store import JobStore


async def save_job_files(store: JobStore, job_id: str, files: dict[str, str]) -> None:
    await store.db.execute(
        "INSERT INTO job_files (job_id, files) VALUES (?, ?) ON CONFLICT (job_id) DO UPDATE SET files = excluded.files",
        (job_id, json.dumps(files)),
    )


async def delete_job_files(store: JobStore, job_id: str) -> None:
    """Drop the files of a job that was not stored after all (its own delete is done by a trigger)."""
    await store.db.execute("DELETE FROM job_files WHERE job_id=?", (job_id,))


async def load_job_files(store: JobStore, job_id: str) -> dict[str, str] | None:
    """The files sent with ``job_id``, or None when it was not given any."""
    rows = await store.db.fetch("SELECT files FROM job_files WHERE job_id=?", (job_id,))
    for row in rows:
        files = json.loads(row["files"])
        if isinstance(files, dict):
            return {str(k): str(v) for k, v in files.items()}
    return None


async def job_files_count(store: JobStore) -> int:
    rows = await store.db.fetch("SELECT COUNT(*) AS n FROM job_files", ())
    return int(rows[0]["n"]) if rows else 0
