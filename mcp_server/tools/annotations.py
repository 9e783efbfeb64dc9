"""Tool annotations: the four MCP behaviour hints and a title, spelled out for every tool.

Clients use them to decide what to auto-approve (read-only) and what to confirm (destructive).
Every hint is set explicitly, never left to the spec's defaults, so a snapshot shows them all.
"""

from __future__ import annotations

from mcp.types import ToolAnnotations


def reads(title: str) -> ToolAnnotations:
    """Looks, changes nothing, answers the same for the same arguments, stays on this machine."""
    return ToolAnnotations(
        title=title, read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )


def starts_job(title: str) -> ToolAnnotations:
    """Queues a persona run: adds a job (nothing is overwritten); the run may call the Claude API."""
    return ToolAnnotations(
        title=title, read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
    )


def destroys(title: str, *, idempotent: bool) -> ToolAnnotations:
    """Overwrites or deletes something (a standard file, job history, a running job)."""
    return ToolAnnotations(
        title=title, read_only_hint=False, destructive_hint=True, idempotent_hint=idempotent, open_world_hint=False
    )
