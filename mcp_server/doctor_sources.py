"""`personas doctor` lines for the standards sources: folders, shared (org) folders, rule files, subagents."""

from __future__ import annotations

import os

from mcp_server.doctor import Check
from mcp_server.settings import Settings
from personas.claude_agents import subagent_files
from standards.index.rules import discover_rules
from standards.index.sources import discover_under
from standards.index.walk import WalkCuts

#: Rule files named one by one in the report; more are counted.
MAX_LISTED = 12


def source_checks(settings: Settings) -> list[Check]:
    """One line per source kind: what was found where (blocking I/O; bounded walks)."""
    limit = settings.standards_max_files
    checks = [_folder("project standards", settings.standards_dir, "project", limit)]
    for i, folder in enumerate(settings.shared_standards_dirs):
        check = _folder(f"shared standards {i + 1}", folder, "shared", limit)
        if check.ok and i == 0:
            writable = settings.shared_standards_writable and os.access(folder, os.W_OK)
            check.detail += "; approvals may write here (target='shared')" if writable else "; read-only"
        checks.append(check)
    checks.append(_rules(settings))
    checks.append(_agents(settings))
    checks.append(_personas(settings))
    return checks


def _personas(settings: Settings) -> Check:
    """The persona files that did not load: the server runs without them, so a typo in a custom
    persona's front matter would otherwise show only as a missing invoke tool."""
    from personas.registry import PersonaRegistry

    registry = PersonaRegistry.load(settings.personas_dir, claude_root=settings.claude_agents_root)
    loaded = f"{len(registry.all())} loaded"
    if not registry.errors:
        return Check("personas", True, f"{loaded} ({settings.personas_dir} for your own)")
    more = f" (and {len(registry.errors) - 1} more)" if len(registry.errors) > 1 else ""
    return Check(
        "personas",
        False,
        f"{loaded}; {len(registry.errors)} file(s) skipped: {registry.errors[0]}{more}",
        "fix the front matter named above (`personas new ID` writes a valid file to start from), or remove the file",
    )


def _folder(name: str, folder: os.PathLike[str], kind: str, max_files: int) -> Check:
    from pathlib import Path

    root = Path(folder)
    setting = "PERSONAS_STANDARDS_DIR" if kind == "project" else "PERSONAS_SHARED_STANDARDS_DIRS"
    if root.exists() and not root.is_dir():
        return Check(name, False, f"{root} is a file, not a folder", f"point {setting} at a folder", warning=True)
    if not root.is_dir():
        detail = f"{root} does not exist" + (
            " (the first approval or `personas standards add` creates it)" if kind == "project" else ""
        )
        return Check(name, kind == "project", detail, f"check {setting}", warning=kind != "project")
    cuts = WalkCuts()
    count = len(discover_under(kind, root.resolve(), "", max_files=max_files, cuts=cuts))
    if cuts.messages:
        fix = "point the setting at the standards folder itself, or raise PERSONAS_STANDARDS_MAX_FILES"
        return Check(name, False, f"only {count} Markdown file(s) taken: {cuts.messages[0]}", fix, warning=True)
    return Check(name, True, f"{count} Markdown file(s) in {root}")


def _rules(settings: Settings) -> Check:
    if not settings.rules_discovery:
        return Check("rule files", True, "discovery off (PERSONAS_RULES_DISCOVERY=false)")
    found = discover_rules(settings.project_root)
    if not found:
        return Check(
            "rule files",
            True,
            f"none in {settings.project_root} (AGENTS.md, CLAUDE.md, .cursor/rules/*.mdc, .cursorrules, "
            ".github/copilot-instructions.md, .github/instructions/*.instructions.md)",
        )
    listed = ", ".join(found[:MAX_LISTED]) + (f" and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else "")
    return Check("rule files", True, f"{len(found)} indexed as source 'rules': {listed}")


def _agents(settings: Settings) -> Check:
    if not settings.claude_agents:
        return Check("claude subagents", True, "loading off (PERSONAS_CLAUDE_AGENTS=false)")
    files = subagent_files(settings.project_root)
    if not files:
        return Check("claude subagents", True, "none in .claude/agents")
    from personas.registry import PersonaRegistry

    registry = PersonaRegistry.load(settings.personas_dir, claude_root=settings.project_root)
    loaded = [p.id for p in registry.all() if p.origin == "claude"]
    detail = f"{len(files)} in .claude/agents; {len(loaded)} loaded as personas" + (
        f": {', '.join(loaded)}" if loaded else ""
    )
    if exported := sorted({p.stem for p in files} & {p.id for p in registry.all() if p.origin != "claude"}):
        detail += f"; {len(exported)} named like a persona of this server, which wins: {', '.join(exported)}"
    return Check("claude subagents", True, detail)
