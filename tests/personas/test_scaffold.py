"""``scaffold_persona``: fork a persona into a new file that loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from personas.registry import PersonaRegistry, load_persona_file
from personas.scaffold import scaffold_persona


@pytest.mark.parametrize("source", ["architect", "data", "engineer", "qa", "security", "sre"])
def test_fork_of_each_core_persona_loads(tmp_path: Path, registry: PersonaRegistry, source: str) -> None:
    original = registry.get(source)
    target = tmp_path / ".agent-os" / "personas"

    path = scaffold_persona("payments-review", original, target)

    assert path == target / "payments-review.md"
    forked = load_persona_file(path, "project")
    assert (forked.id, forked.name, forked.version) == ("payments-review", "Payments Review", "1")
    assert forked.system_prompt == original.system_prompt
    assert forked.personality == original.personality
    assert (forked.tools, forked.domains, forked.examples) == (
        original.tools,
        original.domains,
        original.examples,
    )
    assert forked.starter_prompts == original.starter_prompts
    assert forked.description == original.description


def test_fork_with_a_name_and_override_of_the_same_id(tmp_path: Path, registry: PersonaRegistry) -> None:
    path = scaffold_persona("security", registry.get("security"), tmp_path, name="Our AppSec")
    merged = PersonaRegistry.load(tmp_path)
    assert merged.get("security").origin == "project"
    assert merged.get("security").name == "Our AppSec"
    assert path.read_text().startswith("---\nid: security\nname: Our AppSec\n")


def test_refuses_to_overwrite(tmp_path: Path, registry: PersonaRegistry) -> None:
    path = scaffold_persona("mine", registry.get("qa"), tmp_path)
    path.write_text("edited by hand")
    with pytest.raises(FileExistsError, match="already exists"):
        scaffold_persona("mine", registry.get("sre"), tmp_path)
    assert path.read_text() == "edited by hand"


@pytest.mark.parametrize("bad_id", ["Bad", "has space", "-lead", "9lives", "x" * 41, "../escape", ""])
def test_refuses_bad_ids(tmp_path: Path, registry: PersonaRegistry, bad_id: str) -> None:
    with pytest.raises(ValueError, match="invalid persona id"):
        scaffold_persona(bad_id, registry.get("qa"), tmp_path)
    assert list(tmp_path.iterdir()) == []
