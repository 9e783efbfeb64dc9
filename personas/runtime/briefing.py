"""No API key: a clearly labelled briefing the calling assistant applies itself."""

from __future__ import annotations

import asyncio

from personas.model import PersonaDefinition
from personas.runtime.models import RunOutcome, RunRequest
from personas.runtime.prompt import build_system_prompt, extract_section, prompt_hash
from personas.runtime.review_scope import files_under_review
from personas.runtime.toolbox import RunToolbox, StandardsSearch, change_standards, citation_ref
from standards.control_chars import one_line

BRIEFING_STANDARDS = 5
MAX_QUERY_CHARS = 1_000
MAX_SCOPE_FILES = 50
"""Files listed under "What to review"; the rest are counted."""


async def _relevant_standards(
    search: StandardsSearch | None, task: str, paths: list[str], unaccepted: list[str]
) -> str:
    if search is None:
        return "The standards index is unavailable, so none are attached: call `search_standards` yourself."
    try:
        response = await search.search(
            task.strip()[:MAX_QUERY_CHARS],
            limit=BRIEFING_STANDARDS,
            paths=paths or None,
            unaccepted=unaccepted or None,
        )
    except ValueError as exc:
        return f"The standards search refused the task as a query ({exc}): call `search_standards` yourself."
    if not response.results:
        return "No team standard matched the task; cite industry references (OWASP, CWE, …) instead."
    return "\n\n".join(
        f"### {i}. `{citation_ref(hit)}` (score {hit.score:.2f})\n{hit.text.strip()}"
        for i, hit in enumerate(response.results, start=1)
    )


def _scope(request: RunRequest, paths: list[str]) -> str:
    """What the review covers: the change (each file with its status and changed lines) and the project
    files named in the context, so the assistant applying the briefing knows where to look."""
    out: list[str] = []
    listed: set[str] = set()
    if (change := request.changes) is not None:
        out.append(f"The change {one_line(change.spec)} ({len(change.files)} file(s)); focus on the changed lines:")
        for file in change.files[:MAX_SCOPE_FILES]:
            out.append(file.describe())
            listed.update(p for p in (file.path, file.old_path) if p)
        if len(change.files) > MAX_SCOPE_FILES:
            out.append(f"- … and {len(change.files) - MAX_SCOPE_FILES} more")
    named = [p for p in paths if p not in listed]
    if named:
        out.append(("Also the files" if out else "The files") + " named in the context:")
        out.extend(f"- {one_line(p)}" for p in named[:MAX_SCOPE_FILES])
    return "\n".join(out)


async def briefing(persona: PersonaDefinition, request: RunRequest, toolbox: RunToolbox) -> RunOutcome:
    """The persona's checklist (its "How you review" section) and the standards most relevant to the task."""
    checklist = extract_section(persona.system_prompt, "How you review") or persona.system_prompt
    paths = await asyncio.to_thread(files_under_review, request, toolbox.project_root)
    changed = [p for f in request.changes.files for p in (f.path, f.old_path) if p] if request.changes else []
    standards = await _relevant_standards(
        toolbox.search, request.task, paths, change_standards(changed, toolbox).unaccepted
    )
    scope = _scope(request, paths)
    text = (
        f"# Briefing from {persona.name} (no review was run)\n\n"
        "ANTHROPIC_API_KEY is not set, so no model ran this persona. Apply this briefing yourself: review "
        "the task with the checklist below, cite the standards listed here as `file#heading`, and report "
        "findings ordered critical → info, each with location, detail and a concrete recommendation. "
        "Set ANTHROPIC_API_KEY in the MCP server's environment to get full reviews.\n\n"
        f"## Task\n{request.task.strip()}\n\n"
        + (f"## What to review\n{scope}\n\n" if scope else "")
        + f"## Checklist: how the {persona.name} reviews\n{checklist}\n\n"
        f"## Standards most relevant to the task\n{standards}\n"
    )
    return RunOutcome(
        mode="briefing",
        result=text,
        ended_by="briefing",
        persona_id=persona.id,
        persona_version=persona.version,
        prompt_hash=prompt_hash(build_system_prompt(persona, toolbox.limits)),
    )
