"""Claude Code subagents (``.claude/agents/*.md``) as personas, and personas exported as subagents.

A subagent file is Markdown with YAML front matter: ``name`` (lowercase, hyphens), ``description``,
optional ``tools`` (comma-separated string or list; omitted = every tool) and ``model`` (an alias
such as ``sonnet``, ``inherit``, or a model id); the body is the system prompt. Claude Code tools
map to ours where there is an equivalent: Read -> read_file, Grep / Glob -> list_files and
search_standards, ``mcp__<server>__search_standards`` -> search_standards; others (Bash, Edit, ...)
are ignored with a warning. ``submit_review`` and ``propose_standard`` (a draft a human must
approve) are always granted, so every imported persona can finish a run.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from personas.model import ALL_RUN_TOOLS, SLUG_PATTERN, PersonaDefinition
from standards.frontmatter import dump as dump_front_matter
from standards.frontmatter import split as split_front_matter

CLAUDE_AGENTS_DIR = Path(".claude") / "agents"
DEFAULT_MCP_SERVER = "agent-personas"
#: Domains of an imported subagent that names none (the prompt's standards search runs per domain).
DEFAULT_DOMAINS = ("general", "development")
MAX_AGENT_FILE_BYTES = 200_000
MAX_AGENT_FILES = 200
TOOL_MAP: dict[str, tuple[str, ...]] = {
    "Read": ("read_file",),
    "Grep": ("list_files", "search_standards"),
    "Glob": ("list_files", "search_standards"),
}
ALWAYS_GRANTED = ("propose_standard", "submit_review")
MODEL_ALIASES = frozenset({"inherit", "sonnet", "opus", "haiku", "default"})
_MCP_TOOL = re.compile(r"^mcp__.+__(search_standards|list_files|read_file)$")
_DESCRIPTION_MAX = 600


class SubagentError(ValueError):
    """A subagent file cannot be used as a persona; the message names the file and the cause."""


def subagent_files(project_root: Path) -> list[Path]:
    """The project's subagent files, sorted (at most :data:`MAX_AGENT_FILES`)."""
    folder = project_root / CLAUDE_AGENTS_DIR
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.md"))[:MAX_AGENT_FILES]


def _check_inside(path: Path, project_root: Path) -> None:
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise SubagentError(f"{path}: cannot resolve ({exc})") from exc
    if project_root.resolve() not in resolved.parents:
        raise SubagentError(f"{path}: is a symlink leading outside the project; replace it with a real file")
    if not resolved.is_file():
        raise SubagentError(f"{path}: not a regular file")


def map_tools(value: object) -> tuple[list[str], list[str]]:
    """Claude Code ``tools`` -> (our run tools in canonical order, warnings for unmapped names)."""
    if value is None:
        return list(ALL_RUN_TOOLS), []
    names = [t.strip() for t in value.split(",")] if isinstance(value, str) else value
    if not isinstance(names, list):
        raise ValueError(f"tools must be a comma-separated string or a list, got {type(value).__name__}")
    wanted: set[str] = set(ALWAYS_GRANTED)
    warnings: list[str] = []
    for name in names:
        if not isinstance(name, str) or not name.strip():
            continue
        mcp = _MCP_TOOL.match(name.strip())
        if mcp:
            wanted.add(mcp.group(1))
        elif name.strip() in TOOL_MAP:
            wanted.update(TOOL_MAP[name.strip()])
        else:
            warnings.append(f"tool {name.strip()!r} has no equivalent here and is ignored")
    return [t for t in ALL_RUN_TOOLS if t in wanted], warnings


def _split(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter and body; a subagent without front matter has no name or description."""
    if not text.removeprefix("\ufeff").startswith("---"):
        raise ValueError("no front matter: the file must start with '---', name and description, then '---'")
    return split_front_matter(text)


def load_subagent(path: Path, project_root: Path | None = None) -> tuple[PersonaDefinition, list[str]]:
    """A subagent file as a persona (origin 'claude') and the warnings about what was ignored.
    With ``project_root``, a file whose real path is outside it (a symlink) is refused."""
    if project_root is not None:
        _check_inside(path, project_root)
    try:
        with path.open("rb") as handle:  # never more than the cap, whatever the file's size
            data = handle.read(MAX_AGENT_FILE_BYTES + 1)
        if len(data) > MAX_AGENT_FILE_BYTES:
            raise SubagentError(f"{path}: larger than {MAX_AGENT_FILE_BYTES} bytes")
        meta, body = _split(data.decode("utf-8"))
        tools, warnings = map_tools(meta.get("tools"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, SubagentError):
            raise
        raise SubagentError(f"{path}: cannot read Claude Code subagent: {exc}") from exc
    name = str(meta.get("name") or path.stem).strip()
    if not re.fullmatch(SLUG_PATTERN, name):
        raise SubagentError(
            f"{path}: name {name!r} must be lowercase letters, digits and hyphens (e.g. 'code-reviewer')"
        )
    description = " ".join(str(meta.get("description") or "").split())
    if len(description) > _DESCRIPTION_MAX:
        description = description[: _DESCRIPTION_MAX - 1] + "…"
    model = meta.get("model")
    domains = meta.get("domains") or list(DEFAULT_DOMAINS)
    try:
        persona = PersonaDefinition.model_validate(
            {
                "id": name,
                "name": name.replace("-", " ").replace("_", " ").title(),
                "description": description,
                "domains": domains,
                "model": None if not isinstance(model, str) or model.strip() in MODEL_ALIASES else model.strip(),
                "tools": tools,
                "system_prompt": body.strip(),
                "origin": "claude",
                "source_path": path,
            }
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '?'}: {e['msg']}" for e in exc.errors())
        raise SubagentError(f"{path}: {problems}") from exc
    return persona, [f"{path.name}: {w}" for w in warnings]


def export_subagent(persona: PersonaDefinition, *, mcp_server: str = DEFAULT_MCP_SERVER) -> str:
    """A persona as a Claude Code subagent file (its standards search goes through this MCP server)."""
    tools: list[str] = []
    if "read_file" in persona.tools:
        tools.append("Read")
    if "list_files" in persona.tools:
        tools += ["Glob", "Grep"]
    if "search_standards" in persona.tools:
        tools.append(f"mcp__{mcp_server}__search_standards")
    meta: dict[str, Any] = {"name": persona.id, "description": persona.description, "tools": ", ".join(tools)}
    if persona.model:
        meta["model"] = persona.model
    meta["domains"] = list(persona.domains)
    return f"{dump_front_matter(meta)}\n{persona.system_prompt.strip()}\n"


def agents_folder(project_root: Path, *, create: bool = False) -> Path:
    """``.claude/agents`` under the project, checked (and with ``create`` made) one real folder at a
    time: a symlinked ``.claude`` or ``.claude/agents`` would send every subagent file (and the
    folders made for it) elsewhere, so it is refused (:class:`SubagentError`)."""
    folder = project_root
    for part in CLAUDE_AGENTS_DIR.parts:
        folder = folder / part
        if folder.is_symlink():
            raise SubagentError(
                f"{folder}: is a symlink; refusing to write subagents through it. Replace it with a real "
                f"folder (e.g. `rm {folder} && mkdir {folder}`) and export again."
            )
        if not folder.exists():
            if not create:
                continue
            folder.mkdir()
        elif not folder.is_dir():
            raise SubagentError(f"{folder}: is not a folder; move it away and export again")
    return folder


def _write_new(target: Path, text: str) -> None:
    """Write ``target`` without following a symlink put there (O_NOFOLLOW), 0644 like any new file."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SubagentError(f"{target}: is a symlink; refusing to write through it") from exc
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_subagents(
    personas: list[PersonaDefinition], project_root: Path, *, mcp_server: str = DEFAULT_MCP_SERVER
) -> list[Path]:
    """Write ``.claude/agents/<id>.md`` for each persona (blocking); returns the written paths.
    A symlinked ``.claude``, ``.claude/agents`` or target file is refused (:class:`SubagentError`)."""
    folder = agents_folder(project_root, create=True)
    written = []
    for persona in personas:
        target = folder / f"{persona.id}.md"
        if target.is_symlink():
            raise SubagentError(f"{target}: is a symlink; refusing to write through it")
        _write_new(target, export_subagent(persona, mcp_server=mcp_server))
        written.append(target)
    return written
