"""``personas new ID --from PERSONA``: fork an existing persona into a new, editable file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from personas.model import SLUG_PATTERN, PersonaDefinition
from standards.control_chars import one_line

_NOT_COPIED = frozenset({"system_prompt", "origin", "source_path"})


def default_name(persona_id: str) -> str:
    """'payments-security' → 'Payments Security'."""
    return " ".join(part.capitalize() for part in re.split(r"[-_]", persona_id) if part)


def scaffold_persona(
    new_id: str, from_persona: PersonaDefinition, target_dir: Path, *, name: str | None = None
) -> Path:
    """Write ``<target_dir>/<new_id>.md``: the front matter and body of ``from_persona`` with the id and
    name changed and the version reset to 1. Never overwrites; raises ValueError on a bad id and
    FileExistsError when the file exists."""
    if not re.fullmatch(SLUG_PATTERN, new_id):
        raise ValueError(
            f"invalid persona id {new_id!r}: use a lowercase slug of letters, digits, '-' or '_' "
            "starting with a letter (at most 40 characters), e.g. 'payments-security'"
        )
    if name is not None and one_line(name) != name:
        raise ValueError(f"--name '{one_line(name)}': one line without control characters, e.g. 'Payments Security'")
    meta: dict[str, Any] = from_persona.model_dump(mode="json", exclude=set(_NOT_COPIED))
    meta.update(id=new_id, name=name or default_name(new_id), version=1)
    try:  # what the server would refuse to load is not written
        PersonaDefinition.model_validate({**meta, "system_prompt": from_persona.system_prompt, "origin": "project"})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"the new persona would not load ({problems}); nothing was written") from None
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100)
    text = f"---\n{front}---\n{from_persona.system_prompt.strip()}\n"
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / f"{new_id}.md"
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise FileExistsError(f"{path} already exists; pick another id or edit that file") from None
    return path
