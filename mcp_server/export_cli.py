"""``personas export --claude [ID...]``: personas as Claude Code subagents (.claude/agents/<id>.md)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from mcp_server.settings import Settings
from personas.claude_agents import DEFAULT_MCP_SERVER, SubagentError, agents_folder, write_subagents
from personas.registry import PersonaRegistry, UnknownPersonaError


def add_export_parser(sub: Any) -> None:
    export = sub.add_parser(
        "export", help="Write personas for another tool: --claude writes .claude/agents/<id>.md subagents."
    )
    export.add_argument("--claude", action="store_true", help="Claude Code subagents (the only format so far).")
    export.add_argument("ids", nargs="*", metavar="ID", help="Personas to export (default: all but subagents).")
    export.add_argument(
        "--mcp-server",
        default=DEFAULT_MCP_SERVER,
        help=f"Name of this MCP server in Claude Code, for the standards search tool (default: {DEFAULT_MCP_SERVER}).",
    )
    export.add_argument("--force", action="store_true", help="Overwrite subagent files that already exist.")


def export_command(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not args.claude:
        err.write("personas export: say which format, e.g. `personas export --claude`.\n")
        return 2
    registry = PersonaRegistry.load(settings.personas_dir, claude_root=settings.claude_agents_root)
    try:
        chosen = [registry.get(i) for i in args.ids] if args.ids else registry.all()
    except UnknownPersonaError as exc:
        err.write(f"personas export: {exc}\n")
        return 2
    if not args.ids:
        chosen = [p for p in chosen if p.origin != "claude"]  # already subagents
    try:
        folder = agents_folder(settings.project_root)  # a symlinked .claude or .claude/agents is refused
    except SubagentError as exc:
        err.write(f"personas export: {exc}\n")
        return 2
    existing = [p.id for p in chosen if (folder / f"{p.id}.md").exists()]
    if existing and not args.force:
        err.write(
            f"personas export: {folder} already has {', '.join(f'{i}.md' for i in existing)}; pass --force to "
            "overwrite them, or name other personas.\n"
        )
        return 2
    try:
        written = write_subagents(chosen, settings.project_root, mcp_server=args.mcp_server)
    except (OSError, SubagentError) as exc:
        err.write(f"personas export: {exc}\n")
        return 1
    for path in written:
        out.write(f"{path}\n")
    err.write(f"Wrote {len(written)} Claude Code subagent(s) to {folder}.\n")
    return 0
