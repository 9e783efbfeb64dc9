"""Code a remote client sends with a job (``files`` and ``diff``): the gate, validation, job fields.

Only a server started for remote clients (``personas serve --http --remote-clients`` or
``PERSONAS_REMOTE_CLIENTS=true``) takes them: a server that reads the developer's checkout from disk
refuses them, so it never silently reviews something other than what the caller sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personas.changes.supplied import SuppliedCodeError, SuppliedLimits, check_supplied, supplied_changes

ENABLE_HINT = (
    "start the server with `personas serve --http --remote-clients` (or set PERSONAS_REMOTE_CLIENTS=true) when "
    "it cannot see the callers' checkouts"
)


@dataclass(frozen=True)
class ClientCode:
    """What the caller sent: files (path → text) and/or a unified diff."""

    files: dict[str, str] | None = None
    diff: str | None = None

    @property
    def given(self) -> bool:
        return self.files is not None or self.diff is not None


@dataclass(frozen=True)
class ClientCodeOptions:
    enabled: bool = False
    limits: SuppliedLimits = field(default_factory=SuppliedLimits)


def prepare_client_code(
    code: ClientCode,
    options: ClientCodeOptions,
    *,
    changes: str | None,
    project_root: Path,
    max_diff_chars: int,
) -> tuple[dict[str, str], dict[str, Any] | None]:
    """(files to store with the job, the job's ``changes`` from the diff or None); SuppliedCodeError
    says what is wrong."""
    if not options.enabled:
        raise SuppliedCodeError(
            f"files/diff were sent, but this server reads the project at {project_root} from its own disk and "
            "does not take client-supplied code. Omit files and diff (name project paths in context, or use "
            f"changes), or {ENABLE_HINT}."
        )
    if changes is not None:
        raise SuppliedCodeError(
            "changes and files/diff were both sent: 'changes' is resolved with git in the server's checkout, "
            "which is not yours. Send the change as diff (the output of `git diff`) and leave out changes."
        )
    files, diff = check_supplied(code.files, code.diff, options.limits)
    resolved = (
        supplied_changes(diff, max_diff_chars=max_diff_chars, max_files=options.limits.max_diff_files)
        if diff is not None
        else None
    )
    return files, (resolved.model_dump(mode="json") if resolved is not None else None)
