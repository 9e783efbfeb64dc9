"""Persona definitions: YAML front matter + a Markdown system prompt, validated with pydantic."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SLUG_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
MAX_PROMPT_TOKENS = 1_500
CHARS_PER_TOKEN = 3.5
"""Prompt budget is counted as ceil(chars / 3.5). Claude's tokenizer averages ~3.5-4.5 characters
per token on English prose and Markdown, so this estimate over-counts: a prompt that passes it
fits the 1,500-token budget without loading any tokenizer at start-up."""

RunToolName = Literal["search_standards", "list_files", "read_file", "propose_standard", "submit_review"]
ALL_RUN_TOOLS: tuple[RunToolName, ...] = (
    "search_standards",
    "list_files",
    "read_file",
    "propose_standard",
    "submit_review",
)


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class Personality(BaseModel):
    """Each trait is 0-1: creativity -> temperature, verbosity -> max_tokens, formality -> tone."""

    model_config = ConfigDict(extra="forbid")

    creativity: float = Field(default=0.3, ge=0.0, le=1.0)
    verbosity: float = Field(default=0.5, ge=0.0, le=1.0)
    formality: float = Field(default=0.6, ge=0.0, le=1.0)

    @property
    def temperature(self) -> float:
        return round(0.1 + 0.8 * self.creativity, 3)

    @property
    def max_tokens(self) -> int:
        return int(512 + round((2048 - 512) * self.verbosity))


class PersonaExample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1)
    assistant: str = Field(min_length=1)


class PersonaDefinition(BaseModel):
    """One persona. ``system_prompt`` is the Markdown body of its file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=80)
    description: str = Field(min_length=10, max_length=600)
    domains: list[str] = Field(min_length=1)
    model: str | None = None
    personality: Personality = Field(default_factory=Personality)
    tools: list[RunToolName] = Field(default_factory=lambda: list(ALL_RUN_TOOLS))
    starter_prompts: list[str] = Field(default_factory=list)
    examples: list[PersonaExample] = Field(default_factory=list)
    version: str = "1"
    system_prompt: str = Field(min_length=50)
    origin: Literal["core", "project", "claude"] = "core"
    source_path: Path | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("domains")
    @classmethod
    def _domain_slugs(cls, value: list[str]) -> list[str]:
        import re

        for domain in value:
            if not re.fullmatch(SLUG_PATTERN, domain):
                raise ValueError(f"domain {domain!r} must be a lowercase slug like 'security'")
        return value

    @field_validator("system_prompt")
    @classmethod
    def _prompt_budget(cls, value: str) -> str:
        tokens = estimate_tokens(value)
        if tokens > MAX_PROMPT_TOKENS:
            raise ValueError(
                f"system prompt is ~{tokens} tokens (counted as ceil(chars/{CHARS_PER_TOKEN})); "
                f"the limit is {MAX_PROMPT_TOKENS}: shorten the Markdown body"
            )
        return value

    @property
    def tool_name(self) -> str:
        return f"invoke_{self.id.replace('-', '_')}"

    @property
    def prompt_hash(self) -> str:
        return hashlib.sha256(self.system_prompt.encode()).hexdigest()[:16]
