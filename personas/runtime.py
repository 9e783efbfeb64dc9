"""Run one persona on one task: call Claude (or, without an API key, produce a briefing).

This module knows nothing of queues or MCP: the worker passes the persona, the request, the
LLM configuration and a progress sink, and gets a :class:`RunOutcome` back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anthropic
from pydantic import BaseModel, Field

from personas.model import PersonaDefinition

log = logging.getLogger(__name__)

Phase = Literal["queued", "initializing", "searching", "analyzing", "generating", "done"]


class ProgressUpdate(BaseModel):
    """Progress of a running job, as reported by the persona runtime."""

    phase: Phase
    percent_complete: int = Field(ge=0, le=100)
    message: str
    eta_seconds: int | None = None
    tool_calls_completed: int = 0
    tokens_input: int = 0
    tokens_output: int = 0
    partial_result: str | None = None


ProgressSink = Callable[[ProgressUpdate], Awaitable[None]]


class LLMConfig(BaseModel):
    api_key: str | None = None
    base_url: str | None = None
    default_model: str = "claude-sonnet-5-5"
    timeout_seconds: float = 120.0
    max_retries: int = 3
    send_temperature: bool = False
    """The current Messages API takes no sampling parameters; older or compatible endpoints do."""


class RunRequest(BaseModel):
    job_id: str
    task: str
    context: str | None = None


class RunOutcome(BaseModel):
    mode: Literal["review", "briefing"]
    result: str
    findings: list[dict[str, Any]] = Field(default_factory=list)
    tokens_input: int = 0
    tokens_output: int = 0
    tool_calls: int = 0
    persona_version: str
    prompt_hash: str


class PersonaRunError(Exception):
    """A run failed. ``transient`` errors may succeed on retry; ``partial_result`` keeps any text."""

    def __init__(self, message: str, *, transient: bool = False, partial_result: str | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.partial_result = partial_result


def make_client(llm: LLMConfig) -> anthropic.AsyncAnthropic:
    if not llm.api_key:
        raise PersonaRunError("ANTHROPIC_API_KEY is not set")
    return anthropic.AsyncAnthropic(
        api_key=llm.api_key,
        base_url=llm.base_url,
        timeout=llm.timeout_seconds,
        max_retries=llm.max_retries,
    )


def _user_message(request: RunRequest) -> str:
    parts = [f"# Task\n{request.task}"]
    if request.context:
        parts.append(f"# Context\n{request.context}")
    return "\n\n".join(parts)


async def run_persona(
    persona: PersonaDefinition,
    request: RunRequest,
    llm: LLMConfig,
    progress: ProgressSink,
) -> RunOutcome:
    if not llm.api_key:
        return briefing(persona, request)
    await progress(ProgressUpdate(phase="analyzing", percent_complete=20, message=f"{persona.name} is analyzing"))
    started = time.monotonic()
    client = make_client(llm)
    try:
        message = await client.messages.create(
            model=persona.model or llm.default_model,
            system=persona.system_prompt,
            max_tokens=persona.personality.max_tokens,
            messages=[{"role": "user", "content": _user_message(request)}],
            extra_body={"temperature": persona.personality.temperature} if llm.send_temperature else None,
        )
    except anthropic.APIStatusError as exc:
        transient = exc.status_code in (408, 409, 429) or exc.status_code >= 500
        raise PersonaRunError(f"Claude API error {exc.status_code}: {exc.message}", transient=transient) from exc
    except (anthropic.APITimeoutError, anthropic.APIConnectionError) as exc:
        raise PersonaRunError(f"Claude API unreachable: {exc}", transient=True) from exc
    finally:
        await client.close()
    text = "".join(block.text for block in message.content if block.type == "text")
    log.info("persona %s answered in %.2fs", persona.id, time.monotonic() - started)
    return RunOutcome(
        mode="review",
        result=text,
        tokens_input=message.usage.input_tokens,
        tokens_output=message.usage.output_tokens,
        persona_version=persona.version,
        prompt_hash=persona.prompt_hash,
    )


def briefing(persona: PersonaDefinition, request: RunRequest) -> RunOutcome:
    """No API key: a labelled briefing the calling assistant applies itself."""
    text = (
        f"# Briefing from {persona.name} (no review was run)\n\n"
        "ANTHROPIC_API_KEY is not set, so no model ran this persona. Apply this briefing yourself: "
        "follow the persona's review method below on the task, and cite the standards it names. "
        "Set ANTHROPIC_API_KEY in the MCP server's environment to get full reviews.\n\n"
        f"## Task\n{request.task}\n\n## {persona.name}: how to review\n{persona.system_prompt}\n"
    )
    return RunOutcome(
        mode="briefing", result=text, persona_version=persona.version, prompt_hash=persona.prompt_hash
    )
