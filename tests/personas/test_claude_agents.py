"""Claude Code subagents as personas, and `personas export --claude`: the round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.cli import main
from personas.claude_agents import SubagentError, export_subagent, load_subagent, map_tools, write_subagents
from personas.registry import PersonaRegistry

# The format Claude Code documents: name, description, tools (comma-separated), model; body = prompt.
REVIEWER = """---
name: code-reviewer
description: Expert code review specialist. Use proactively after writing or modifying code.
tools: Read, Grep, Glob, Bash
model: sonnet
---
You are a senior code reviewer ensuring high standards of code quality and security.
When invoked, run git diff, focus on modified files and begin the review immediately.
"""


def test_subagent_is_loaded_as_a_persona_with_mapped_tools(tmp_path: Path) -> None:
    path = tmp_path / "code-reviewer.md"
    path.write_text(REVIEWER)
    persona, warnings = load_subagent(path)
    assert (persona.id, persona.origin, persona.tool_name) == ("code-reviewer", "claude", "invoke_code_reviewer")
    assert persona.tools == ["search_standards", "list_files", "read_file", "propose_standard", "submit_review"]
    assert persona.model is None  # an alias: the server's default model
    assert persona.system_prompt.startswith("You are a senior code reviewer")
    assert warnings == ["code-reviewer.md: tool 'Bash' has no equivalent here and is ignored"]


def test_tool_mapping() -> None:
    assert map_tools("Read") == (["read_file", "propose_standard", "submit_review"], [])
    assert map_tools(["Glob"])[0] == ["search_standards", "list_files", "propose_standard", "submit_review"]
    assert map_tools("mcp__agent-personas__search_standards, WebFetch") == (
        ["search_standards", "propose_standard", "submit_review"],
        ["tool 'WebFetch' has no equivalent here and is ignored"],
    )
    assert len(map_tools(None)[0]) == 5  # omitted: every tool, as in Claude Code


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("No front matter at all, just a long enough prompt for a persona to be valid here.", "no front matter"),
        ("---\nname: Bad Name\ndescription: A reviewer of things that need review.\n---\n" + "x" * 80, "lowercase"),
        ("---\nname: [unclosed\n---\nbody", "not valid YAML"),
        ("---\nname: short\ndescription: Reviews code.\n---\ntoo short", "system_prompt"),
    ],
)
def test_bad_subagents_are_refused_naming_the_file(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "bad.md"
    path.write_text(text)
    with pytest.raises(SubagentError, match=why) as caught:
        load_subagent(path)
    assert str(path) in str(caught.value)


def test_every_core_persona_round_trips(tmp_path: Path) -> None:
    for persona in PersonaRegistry.load().all():
        path = tmp_path / f"{persona.id}.md"
        path.write_text(export_subagent(persona))
        back, warnings = load_subagent(path)
        assert warnings == []
        assert (back.id, back.description, back.domains, back.model) == (
            persona.id,
            persona.description,
            persona.domains,
            persona.model,
        )
        assert back.tools == persona.tools
        assert back.system_prompt == persona.system_prompt.strip()


def test_export_cli_writes_subagents_that_load_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(tmp_path))
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "code-reviewer.md").write_text(REVIEWER)
    assert main(["export", "--claude", "security", "qa"]) == 0
    assert sorted(p.name for p in agents.iterdir()) == ["code-reviewer.md", "qa.md", "security.md"]
    text = (agents / "security.md").read_text()
    assert text.startswith("---\nname: security\ndescription: ")
    assert "tools: Read, Glob, Grep, mcp__agent-personas__search_standards\n" in text
    assert main(["export", "--claude", "security"]) == 2  # exists: needs --force
    assert main(["export", "--claude", "security", "--force"]) == 0
    assert main(["export", "--claude", "nobody"]) == 2
    registry = PersonaRegistry.load(claude_root=tmp_path)
    assert registry.get("code-reviewer").origin == "claude"
    assert registry.get("security").origin == "core"  # our own persona wins over its export
    assert not [w for w in registry.warnings if "security" in w]  # its own export is no news at every start
    (agents / "qa.md").write_text(REVIEWER.replace("code-reviewer", "qa"))  # someone else's "qa" subagent
    assert any("qa.md: skipped" in w for w in PersonaRegistry.load(claude_root=tmp_path).warnings)
    assert main(["export", "--claude"]) == 2  # all: the existing files need --force
    assert main(["export", "--claude", "--force"]) == 0
    assert "code-reviewer.md" in {p.name for p in agents.iterdir()}
    assert (agents / "code-reviewer.md").read_text() == REVIEWER  # a subagent is not re-exported


def test_subagent_symlinked_outside_or_binary_is_skipped_naming_it(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    agents = project / ".claude" / "agents"
    agents.mkdir(parents=True)
    outside = tmp_path / "elsewhere.md"
    outside.write_text(REVIEWER)
    (agents / "linked.md").symlink_to(outside)
    (agents / "binary.md").write_bytes(b"---\nname: bin\n---\n\xff\xfe\x00")
    (agents / "huge.md").write_text("---\nname: huge\ndescription: A very large file.\n---\n" + "x" * 300_000)
    (agents / "code-reviewer.md").write_text(REVIEWER)
    registry = PersonaRegistry.load(claude_root=project)
    assert "code-reviewer" in registry and "linked" not in registry
    errors = "\n".join(registry.errors)
    assert "linked.md: is a symlink leading outside the project" in errors
    assert "binary.md: cannot read Claude Code subagent" in errors
    assert "huge.md: larger than" in errors


def test_a_huge_subagent_file_is_not_read_into_memory(tmp_path: Path) -> None:
    import tracemalloc

    agents = tmp_path / "proj" / ".claude" / "agents"
    agents.mkdir(parents=True)
    with (agents / "huge.md").open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)  # a sparse 64 MB file, as a cloned repo could ship
    tracemalloc.start()
    try:
        registry = PersonaRegistry.load(claude_root=tmp_path / "proj")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "huge.md: larger than" in "\n".join(registry.errors)
    assert peak < 16 * 1024 * 1024  # read up to the cap only, not the whole file


@pytest.mark.parametrize("linked", [".claude", ".claude/agents"])
def test_export_refuses_a_symlinked_claude_or_agents_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], linked: str
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / ".claude").mkdir()
    link = project / linked
    if link.is_dir():
        link.rmdir()
    link.symlink_to(elsewhere, target_is_directory=True)
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(project))

    for argv in (["export", "--claude", "security"], ["export", "--claude", "security", "--force"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{link}: is a symlink; refusing to write subagents through it" in err and "mkdir" in err
    assert list(elsewhere.rglob("*")) == []  # nothing written, no folder made out there
    with pytest.raises(SubagentError, match="is a symlink"):
        write_subagents([PersonaRegistry.load().get("security")], project)
    assert list(elsewhere.rglob("*")) == []


def test_export_does_not_follow_a_symlinked_target_file(tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text("keep\n")
    agents = tmp_path / "project" / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "security.md").symlink_to(outside)
    with pytest.raises(SubagentError, match=r"security\.md: is a symlink"):
        write_subagents([PersonaRegistry.load().get("security")], tmp_path / "project")
    assert outside.read_text() == "keep\n"
