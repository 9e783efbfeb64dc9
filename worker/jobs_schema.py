"""The job database's schema: versioned migrations for both backends, and rows ↔ JobState.

Tables: ``jobs`` (one row per job), ``conversations`` (a run's transcript, deleted with its job
by a trigger), ``job_files`` (the files a remote client sent with the job, deleted with it by a
trigger), ``usage_daily`` (accepted jobs per persona and UTC day: the daily quota, which a
reset keeps), ``meta`` (retention bookkeeping). Terminal jobs are final in the database itself:
a trigger refuses to change the status, result or error of a complete, failed or cancelled job,
whoever issues the statement; only bookkeeping (lease release, webhook delivery) still changes.

``jobs`` columns follow :class:`~worker.models.JobState`: migration 1 creates the columns the
indexes and triggers need, and every open adds any model field the table lacks
(:func:`column_types`), typed for the backend. Other changes are new migrations.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from typing import Any

from standards.db import Dialect, Migration
from worker.models import JobState, JobStatus

JSON_FIELDS = frozenset({"findings", "proposals", "changes", "panel", "panel_runs"})
TERMINAL_SQL = "('complete','failed','cancelled')"

_SQLITE_V1 = f"""
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, persona TEXT, task TEXT, status TEXT, result TEXT, error TEXT, created_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at);
CREATE INDEX IF NOT EXISTS jobs_persona ON jobs (persona, created_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (job_id TEXT PRIMARY KEY, messages TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS jobs_delete_conversation AFTER DELETE ON jobs
BEGIN DELETE FROM conversations WHERE job_id = OLD.id; END;
CREATE TABLE IF NOT EXISTS usage_daily (
    persona TEXT NOT NULL, day TEXT NOT NULL, accepted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (persona, day)
);
DELETE FROM conversations WHERE job_id NOT IN (SELECT id FROM jobs);
CREATE TRIGGER IF NOT EXISTS jobs_terminal_are_final BEFORE UPDATE ON jobs
WHEN OLD.status IN {TERMINAL_SQL}
 AND (NEW.status IS NOT OLD.status OR NEW.result IS NOT OLD.result OR NEW.error IS NOT OLD.error)
BEGIN SELECT RAISE(ABORT, 'job is complete, failed or cancelled; terminal jobs cannot change'); END;
"""

_POSTGRES_V1 = f"""
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, persona TEXT NOT NULL, task TEXT NOT NULL, status TEXT NOT NULL,
    result TEXT, error TEXT, created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at);
CREATE INDEX IF NOT EXISTS jobs_persona ON jobs (persona, created_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (job_id TEXT PRIMARY KEY, messages TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS usage_daily (
    persona TEXT NOT NULL, day TEXT NOT NULL, accepted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (persona, day)
);
CREATE OR REPLACE FUNCTION jobs_delete_conversations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM conversations WHERE job_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_delete_conversations AFTER DELETE ON jobs
REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION jobs_delete_conversations();
CREATE OR REPLACE FUNCTION jobs_terminal_are_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN {TERMINAL_SQL} AND (NEW.status IS DISTINCT FROM OLD.status
        OR NEW.result IS DISTINCT FROM OLD.result OR NEW.error IS DISTINCT FROM OLD.error) THEN
        RAISE EXCEPTION 'job is complete, failed or cancelled; terminal jobs cannot change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER jobs_terminal_are_final BEFORE UPDATE ON jobs
FOR EACH ROW EXECUTE FUNCTION jobs_terminal_are_final();
"""

_SQLITE_V2 = """
CREATE TABLE IF NOT EXISTS job_files (job_id TEXT PRIMARY KEY, files TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS jobs_delete_files AFTER DELETE ON jobs
BEGIN DELETE FROM job_files WHERE job_id = OLD.id; END;
"""

_POSTGRES_V2 = """
CREATE TABLE IF NOT EXISTS job_files (job_id TEXT PRIMARY KEY, files TEXT NOT NULL);
CREATE OR REPLACE FUNCTION jobs_delete_files() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM job_files WHERE job_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_delete_files AFTER DELETE ON jobs
REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION jobs_delete_files();
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "jobs, conversations, usage_daily, meta; terminal jobs final", _SQLITE_V1, _POSTGRES_V1),
    Migration(2, "job_files: code a remote client sent, deleted with its job", _SQLITE_V2, _POSTGRES_V2),
)


def _scalar_type(annotation: Any) -> Any:
    """``int | None`` → int; Literal/enums/str → str."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _scalar_type(args[0]) if len(args) == 1 else str
    return annotation


def column_types(dialect: Dialect) -> dict[str, str]:
    """Every JobState field as a column of this dialect (``id`` excluded: migration 1 has it)."""
    kinds: dict[str, str] = {}
    for name, field in JobState.model_fields.items():
        if name == "id":
            continue
        kind = _scalar_type(field.annotation)
        if name in JSON_FIELDS:
            kinds[name] = "TEXT"
        elif kind is bool:
            kinds[name] = "INTEGER" if dialect == "sqlite" else "BOOLEAN"
        elif kind is int:
            kinds[name] = "INTEGER" if dialect == "sqlite" else "BIGINT"
        elif kind is float:
            kinds[name] = "REAL" if dialect == "sqlite" else "DOUBLE PRECISION"
        else:
            kinds[name] = "TEXT" if dialect == "postgres" else ""
    return kinds


def to_row(job: JobState) -> dict[str, Any]:
    return to_row_partial(job.model_dump(mode="python"))


def to_row_partial(values: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in values.items():
        if key not in JobState.model_fields:
            raise KeyError(f"unknown job field {key!r}")
        if key in JSON_FIELDS and value is not None:
            row[key] = json.dumps(value)
        elif isinstance(value, JobStatus):
            row[key] = value.value
        else:
            row[key] = value
    return row


def from_row(row: Mapping[str, Any]) -> JobState:
    data = dict(row)
    for key in JSON_FIELDS:
        if data.get(key) is not None:
            data[key] = json.loads(data[key])
    return JobState.model_validate(data)
