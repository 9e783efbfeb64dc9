"""What changed in the project's git repository: ``working``, ``staged`` or a range of commits.

:func:`resolve_changes` turns a ``changes`` value into a :class:`ChangeSet` (the unified diff,
size-capped, and the changed files with their changed line ranges); :class:`GitSnapshot` lets the
file tools read the files as they are at the change's head. No shell is ever involved, refs are
validated before git sees them, and every git call is bounded in time and output.
"""

from __future__ import annotations

from personas.changes.git import ChangesError
from personas.changes.models import ChangedFile, ChangeSet, LineRange
from personas.changes.resolve import DEFAULT_MAX_DIFF_CHARS, resolve_changes, validate_spec

__all__ = [
    "DEFAULT_MAX_DIFF_CHARS",
    "ChangeSet",
    "ChangedFile",
    "ChangesError",
    "LineRange",
    "resolve_changes",
    "validate_spec",
]
