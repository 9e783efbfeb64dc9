"""Personality → temperature, max_tokens and prompt modifiers; the exact system prompt and its hash."""

from __future__ import annotations

import pytest

from personas.model import PersonaDefinition, Personality
from personas.runtime import RunLimits
from personas.runtime.prompt import build_system_prompt, personality_instructions, prompt_hash


def test_personality_maps_to_temperature_and_max_tokens() -> None:
    assert Personality(creativity=0.0).temperature == 0.1
    assert Personality(creativity=1.0).temperature == 0.9
    assert Personality(verbosity=0.0).max_tokens == 512
    assert Personality(verbosity=1.0).max_tokens == 2048


@pytest.mark.parametrize(
    ("traits", "present", "absent"),
    [
        ({"verbosity": 0.1}, ["Length: be brief", "Be terse"], ["Be exhaustive"]),
        ({"verbosity": 0.5}, ["Length: be concise"], ["Be terse", "Be exhaustive"]),
        ({"verbosity": 0.9}, ["Length: be thorough", "Be exhaustive"], ["Be terse"]),
        ({"formality": 0.2}, ["Tone: plain", "Keep it casual"], ["audit report"]),
        ({"formality": 0.5}, ["Tone: clear and direct"], ["Keep it casual", "audit report"]),
        ({"formality": 0.8}, ["Tone: formal", "audit report"], ["Keep it casual"]),
        ({"creativity": 0.2}, ["Stay conservative"], ["Think laterally"]),
        ({"creativity": 0.5}, [], ["Stay conservative", "Think laterally"]),
        ({"creativity": 0.8}, ["Think laterally"], ["Stay conservative"]),
    ],
)
def test_personality_instructions_and_extremes(traits: dict[str, float], present: list[str], absent: list[str]) -> None:
    text = "\n".join(personality_instructions(Personality(**traits), 1000))
    for phrase in present:
        assert phrase in text
    for phrase in absent:
        assert phrase not in text
    assert "capped at 1000 output tokens" in text


def test_system_prompt_is_body_plus_modifiers_citation_rule_and_budget(security: PersonaDefinition) -> None:
    prompt = build_system_prompt(security, RunLimits(max_turns=7, max_tool_calls=9))
    assert prompt.startswith(security.system_prompt.strip())
    assert "## Style for this run\n- Length:" in prompt
    assert "Write as an audit report" in prompt  # security's formality is 0.8
    assert "## Citing standards\nCite a team standard only as `file#heading`" in prompt
    assert "at most 7 turns and 9 tool calls" in prompt
    assert prompt_hash(prompt) != security.prompt_hash
    assert len(prompt_hash(prompt)) == 16
    other = build_system_prompt(security.model_copy(update={"personality": Personality(formality=0.1)}), RunLimits())
    assert prompt_hash(other) != prompt_hash(prompt)
