"""Versioned schema migrations, one list per store, applied at open on both backends.

A :class:`Migration` has a version (1, 2, … per component), a name, and its SQL for each
dialect (often the same text). The runner records each applied version in
``schema_migrations (component, version, name, applied_at)`` in the same transaction as the
change, under a lock (SQLite ``BEGIN IMMEDIATE``, Postgres an advisory lock), so two processes
starting together apply each migration exactly once. Versions are never edited once released:
a change of schema is a new version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

SCHEMA_TABLE_SQLITE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at REAL NOT NULL,
    PRIMARY KEY (component, version)
)
"""
SCHEMA_TABLE_POSTGRES = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (component, version)
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sqlite: str
    postgres: str

    def sql(self, dialect: str) -> str:
        return self.sqlite if dialect == "sqlite" else self.postgres


def check_order(component: str, migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"{component} migrations must be numbered 1, 2, 3, … in order; got {versions}")


def split_sqlite(script: str) -> list[str]:
    """Split a SQLite script into complete statements (a trigger body's ``;`` stays inside)."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
