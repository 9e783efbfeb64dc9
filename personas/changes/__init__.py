"""What changed in the project's git repository: ``working``, ``staged`` or a range of commits.

:func:`resolve_changes` turns a ``changes`` value into a :class:`ChangeSet` (the unified diff,
size-capped, and the changed files with their changed line ranges); :class:`GitSnapshot` lets the
file tools read the files as they are at the change's head. No shell is ever involved, refs are
validated before git sees them, and every git call is bounded in time and output.

Importing this package is cheap: each name below is imported from its module on first use (PEP 562),
so a process that only needs the models (the MCP server answering ``tools/list``) never loads git's
runner or the resolver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from standards.lazy_names import lazy_names

if TYPE_CHECKING:
    from personas.changes.git import ChangesError
    from personas.changes.models import ChangedFile, ChangeSet, LineRange
    from personas.changes.resolve import DEFAULT_MAX_DIFF_CHARS, resolve_changes, validate_spec

#: Where each name of this package lives.
_HOMES = {
    "ChangesError": "personas.changes.git",
    "ChangedFile": "personas.changes.models",
    "ChangeSet": "personas.changes.models",
    "LineRange": "personas.changes.models",
    "DEFAULT_MAX_DIFF_CHARS": "personas.changes.resolve",
    "resolve_changes": "personas.changes.resolve",
    "validate_spec": "personas.changes.resolve",
}


__getattr__ = lazy_names(__name__, _HOMES, globals())


__all__ = [
    "DEFAULT_MAX_DIFF_CHARS",
    "ChangeSet",
    "ChangedFile",
    "ChangesError",
    "LineRange",
    "resolve_changes",
    "validate_spec",
]
