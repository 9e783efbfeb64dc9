"""Load persona definitions from the shipped core folder and the project's own folder."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from personas.claude_agents import SubagentError, load_subagent, subagent_files
from personas.model import PersonaDefinition
from standards.frontmatter import FrontMatterError
from standards.frontmatter import split as split_front_matter

log = logging.getLogger(__name__)

CORE_DIR = Path(__file__).resolve().parent
#: Largest persona file read (front matter, prompt and examples fit in a few KB).
MAX_PERSONA_FILE_BYTES = 200_000


class PersonaFileError(ValueError):
    """A persona file is invalid. The message names the file and each bad field."""


class UnknownPersonaError(LookupError):
    def __init__(self, persona_id: str, known: Iterable[str]) -> None:
        self.persona_id = persona_id
        known_list = ", ".join(sorted(known))
        super().__init__(f"Unknown persona {persona_id!r}. Known personas: {known_list}.")


def load_persona_file(path: Path, origin: Literal["core", "project"]) -> PersonaDefinition:
    try:
        with path.open("rb") as handle:  # never more than the cap, whatever the file's size
            data = handle.read(MAX_PERSONA_FILE_BYTES + 1)
        if len(data) > MAX_PERSONA_FILE_BYTES:
            raise PersonaFileError(f"{path}: larger than {MAX_PERSONA_FILE_BYTES} bytes; a persona is a short prompt")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PersonaFileError(f"{path}: cannot read persona file ({exc})") from exc
    try:
        meta, body = split_front_matter(text)
    except FrontMatterError as exc:
        raise PersonaFileError(f"{path}: invalid YAML front matter: {exc}") from exc
    if "id" not in meta:
        meta["id"] = path.stem
    try:
        persona = PersonaDefinition.model_validate(
            {**meta, "system_prompt": body.strip(), "origin": origin, "source_path": path}
        )
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors())
        raise PersonaFileError(f"{path}: {problems}") from exc
    if persona.id != path.stem:
        raise PersonaFileError(f"{path}: field 'id': {persona.id!r} must equal the file name {path.stem!r}")
    return persona


def _problem(err: Any) -> str:
    """One validation error as ``field 'x': what`` (an unknown field names the closest known one: a
    typo such as ``nme:`` reads as an unknown field plus a missing ``name``)."""
    field = ".".join(str(p) for p in err["loc"]) or "?"
    text = f"field '{field}': {err['msg']}"
    if err["type"] == "extra_forbidden":
        import difflib

        known = [name for name in PersonaDefinition.model_fields if name not in ("origin", "source_path")]
        if close := difflib.get_close_matches(field, known, n=1):
            text += f" (did you mean '{close[0]}'?)"
    return text


#: Tools of the server itself named like a persona's invoke tool: a persona with such an id (a
#: ``.claude/agents/panel.md`` in a cloned repo) would silently replace the real tool.
RESERVED_TOOL_NAMES = frozenset({"invoke_panel", "invoke_persona"})


def tool_name_clash(personas: dict[str, PersonaDefinition], persona: PersonaDefinition) -> str | None:
    """Why ``persona`` cannot be added: another persona (a different id) has the same MCP tool name,
    or the name is one of the server's own tools."""
    if persona.tool_name in RESERVED_TOOL_NAMES:
        return (
            f"{persona.source_path or persona.id}: persona id {persona.id!r} would become the MCP tool "
            f"{persona.tool_name}, which is one of the server's own tools; rename the file (and its id or name). "
            f"{persona.id!r} was not loaded."
        )
    other = next((p for p in personas.values() if p.id != persona.id and p.tool_name == persona.tool_name), None)
    if other is None:
        return None
    return (
        f"{persona.source_path or persona.id}: persona id {persona.id!r} and {other.id!r} "
        f"({other.source_path or other.origin}) both become the MCP tool {persona.tool_name} ('-' and '_' "
        f"are the same in tool names); rename one of the two files. {persona.id!r} was not loaded."
    )


def _persona_files(directory: Path) -> Iterator[Path]:
    if directory.is_dir():
        yield from sorted(p for p in directory.glob("*.md") if p.is_file() and p.name.lower() != "readme.md")


class PersonaRegistry:
    """The personas available to a project: core ones, then project ones (which override by id)."""

    def __init__(
        self, personas: dict[str, PersonaDefinition], errors: list[str], warnings: list[str] | None = None
    ) -> None:
        self._personas = personas
        self.errors = errors
        self.warnings = warnings or []

    @classmethod
    def load(
        cls, project_dir: Path | None = None, core_dir: Path = CORE_DIR, *, claude_root: Path | None = None
    ) -> PersonaRegistry:
        """Load all personas: core, then the Claude Code subagents under ``claude_root`` (a project
        root holding .claude/agents; one named like a core persona is skipped with a warning), then
        the project's own (which override the ones before by id).
        Invalid project or subagent files are skipped with a logged, named error; invalid core files
        are a bug and raise."""
        personas: dict[str, PersonaDefinition] = {}
        errors: list[str] = []
        warnings: list[str] = []
        for path in _persona_files(core_dir):
            persona = load_persona_file(path, "core")
            if clash := tool_name_clash(personas, persona):
                raise PersonaFileError(clash)
            personas[persona.id] = persona
        if claude_root is not None:
            for path in subagent_files(claude_root):
                try:
                    persona, ignored = load_subagent(path, claude_root)
                except SubagentError as exc:
                    log.error("Skipping Claude Code subagent: %s", exc)
                    errors.append(str(exc))
                    continue
                if persona.id in personas:
                    if persona.system_prompt.strip() == personas[persona.id].system_prompt.strip():
                        # our own persona, exported with `personas export --claude`: nothing to tell anyone
                        log.debug("Claude Code subagent %s: an export of the %r persona", path.name, persona.id)
                        continue
                    ignored = [f"{path.name}: skipped, the {persona.id!r} persona of this server has that name"]
                elif clash := tool_name_clash(personas, persona):
                    log.error("Skipping Claude Code subagent: %s", clash)
                    errors.append(clash)
                    continue
                else:
                    personas[persona.id] = persona
                for warning in ignored:
                    log.warning("Claude Code subagent %s", warning)
                warnings.extend(ignored)
        if project_dir is not None:
            for path in _persona_files(project_dir):
                try:
                    persona = load_persona_file(path, "project")
                except PersonaFileError as exc:
                    log.error("Skipping custom persona: %s", exc)
                    errors.append(str(exc))
                    continue
                if clash := tool_name_clash(personas, persona):
                    log.error("Skipping custom persona: %s", clash)
                    errors.append(clash)
                    continue
                personas[persona.id] = persona
        return cls(personas, errors, warnings)

    def get(self, persona_id: str) -> PersonaDefinition:
        try:
            return self._personas[persona_id]
        except KeyError:
            raise UnknownPersonaError(persona_id, self._personas) from None

    def __contains__(self, persona_id: object) -> bool:
        return persona_id in self._personas

    def all(self) -> list[PersonaDefinition]:
        return sorted(self._personas.values(), key=lambda p: p.id)

    def ids(self) -> list[str]:
        return sorted(self._personas)
