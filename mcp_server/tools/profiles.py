"""Tool profiles: which tools ``tools/list`` offers (PERSONAS_TOOLS / ``serve --tools``).

Every tool is registered, then the ones outside the selection are removed, so a tool added
anywhere is picked up by name: a profile names tools that may not exist yet (dismiss_finding,
invoke_panel) and simply skips those a build does not have.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

INVOKE_PREFIX = "invoke_"
SINGLE_INVOKE = "invoke_persona"
PANEL = "invoke_panel"
"""Every invoke_<persona> tool (or invoke_persona in single mode) belongs to every profile; the panel
(several personas in one job, ~2 KB of definition) to reviewer and all."""

DEVELOPER = frozenset({"wait_for_persona_job", "search_standards", "list_personas", "dismiss_finding"})
"""wait_for_persona_job(job_id, timeout_seconds=0) is a check, so check_persona_job is left to ops (budget)."""
PROPOSALS = frozenset(
    {
        "list_standard_proposals",
        "get_standard_proposal",
        "approve_standard_proposal",
        "reject_standard_proposal",
        "request_standard_changes",
    }
)
OPS = frozenset(
    {"check_persona_job", "list_persona_jobs", "persona_database_stats", "cancel_persona_job", "reset_persona_jobs"}
)

PROFILES: dict[str, frozenset[str] | None] = {
    "developer": DEVELOPER,
    "reviewer": DEVELOPER | PROPOSALS | {PANEL},
    "ops": DEVELOPER | OPS,
    "all": None,
}
"""Profile name → the tools it adds to the invoke tools (``None`` = every tool)."""


class ToolSelectionError(ValueError):
    """PERSONAS_TOOLS / --tools names something that is neither a profile nor a tool of this server."""


def select_tools(spec: str, available: Iterable[str]) -> list[str]:
    """The tools to offer, in registration order, for ``spec``: a profile name or a comma list of
    profile and tool names (their union), e.g. ``developer,reset_persona_jobs``."""
    names = list(available)
    tokens = [token.strip() for token in spec.split(",") if token.strip()]
    if not tokens:
        raise ToolSelectionError(_explain(spec, "is empty", names))
    chosen: set[str] = set()
    for token in tokens:
        if token in PROFILES:
            extra = PROFILES[token]
            chosen.update(n for n in names if extra is None or n in extra or _persona_invoke(n))
        elif token in names:
            chosen.add(token)
        else:
            problem = f"names {token!r}, which is neither a profile nor a tool{_hint(token, names)}"
            raise ToolSelectionError(_explain(spec, problem, names))
    return [n for n in names if n in chosen]


INSTEAD = {"check_persona_job": "wait_for_persona_job(job_id, timeout_seconds=0) checks a job the same way. "}
"""What an offered tool does in place of a left-out one."""


def not_offered(spec: str, available: Iterable[str]) -> dict[str, str]:
    """Each tool of this server that ``spec`` leaves out → the error a call to it gets: which
    profiles offer it and how to add it (the SDK would answer only 'Unknown tool')."""
    names = list(available)
    kept = set(select_tools(spec, names))
    out: dict[str, str] = {}
    for name in names:
        if name in kept:
            continue
        profiles = [profile for profile in PROFILES if name in select_tools(profile, names)]
        which = (
            f"The {profiles[0]} profile offers" if len(profiles) == 1 else f"The {', '.join(profiles)} profiles offer"
        )
        out[name] = (
            f"{name} is not offered by this server (PERSONAS_TOOLS={spec}): nothing was done. {INSTEAD.get(name, '')}"
            f"{which} it; to add it, start the server with PERSONAS_TOOLS={spec},{name} (or --tools)."
        )
    return out


def _hint(token: str, names: list[str]) -> str:
    """Why a near-miss is not there: the other persona-tool layout, or the closest valid name."""
    if token.startswith(INVOKE_PREFIX) and token != PANEL:
        if token == SINGLE_INVOKE:
            return " of this server (invoke_persona is offered with PERSONAS_PERSONA_TOOLS=single)"
        if SINGLE_INVOKE in names:
            return " of this server (with PERSONAS_PERSONA_TOOLS=single the personas share invoke_persona)"
    by_lower = {name.lower(): name for name in [*PROFILES, *names]}
    close = difflib.get_close_matches(token.lower(), list(by_lower), n=1, cutoff=0.75)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def _persona_invoke(name: str) -> bool:
    return name.startswith(INVOKE_PREFIX) and name != PANEL


def _explain(spec: str, problem: str, names: list[str]) -> str:
    return (
        f"PERSONAS_TOOLS / --tools {spec!r} {problem}. Use a profile ({', '.join(PROFILES)}) or a comma list "
        f"of profiles and tool names: {', '.join(names)}."
    )
