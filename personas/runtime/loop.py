"""The Claude tool-use loop of one run.

Turn by turn: call the model with the persona's tools, run the tools it asks for, send the results
back, until it calls ``submit_review`` (the structured review) or ends its turn with prose, which is
accepted as the review without findings. An empty turn gets one nudge. On the last allowed turn (turn,
tool-call or time budget nearly spent) the model is told so and ``submit_review`` is forced through
``tool_choice``; if it still does not submit, the run fails with its partial result.

Transient API errors (429, 529, 5xx, timeouts, connection) are retried by the SDK itself
(``max_retries`` with backoff); what is left becomes ``PersonaRunError(transient=True)``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any, Literal, cast

import anthropic
from anthropic.types import ContentBlock, Message, MessageParam, ToolChoiceParam, ToolUseBlock

from personas.changes.snapshot import GitSnapshot
from personas.changes.supplied import SuppliedSnapshot
from personas.model import PersonaDefinition
from personas.runtime.client import SharedClient
from personas.runtime.findings import finalize, visible
from personas.runtime.models import (
    LLMConfig,
    PersonaRunError,
    Phase,
    ProgressSink,
    ProgressUpdate,
    RunOutcome,
    RunRequest,
)
from personas.runtime.prompt import build_system_prompt, first_user_text, prompt_hash
from personas.runtime.review import Finding, render_review, render_text_answer
from personas.runtime.review_scope import files_under_review
from personas.runtime.toolbox import ProjectFiles, RunToolbox, change_standards
from personas.runtime.tools import RunTools, ToolResult

log = logging.getLogger(__name__)

PHASES: tuple[Phase, ...] = ("initializing", "searching", "analyzing", "generating")
PHASE_FLOOR: dict[Phase, int] = {"initializing": 0, "searching": 10, "analyzing": 30, "generating": 90}
EXPECTED_TURNS = 6
"""A typical review takes about this many turns; percent and ETA assume it until the run goes longer."""
FINISH_AT_FRACTION = 0.8
"""Past this share of the wall-time budget, the next turn is the last one."""
EMPTY_TURN_NUDGE = "Your last turn was empty. Call submit_review with your review now."
TRANSIENT_STATUS = frozenset({408, 409, 429})


def make_client(llm: LLMConfig) -> anthropic.AsyncAnthropic:
    if not llm.api_key:
        raise PersonaRunError("ANTHROPIC_API_KEY is not set")
    return anthropic.AsyncAnthropic(
        api_key=llm.api_key, base_url=llm.base_url, timeout=llm.timeout_seconds, max_retries=llm.max_retries
    )


def is_transient_status(status: int) -> bool:
    return status in TRANSIENT_STATUS or status >= 500


def _status_error(exc: anthropic.APIStatusError, llm: LLMConfig) -> PersonaRunError:
    status = exc.status_code
    if is_transient_status(status):
        hint = f" after {llm.max_retries} retries (PERSONAS_LLM_MAX_RETRIES); the API is busy, try again later"
    elif status == 401:
        hint = ": the API key was rejected; check ANTHROPIC_API_KEY"
    elif status == 403:
        hint = ": the API key may not use this model or endpoint"
    elif status == 404:
        hint = ": check the persona's model (or PERSONAS_MODEL) and ANTHROPIC_BASE_URL"
    else:
        hint = ""
    return PersonaRunError(f"Claude API error {status}: {exc.message}{hint}", transient=is_transient_status(status))


def _block_param(block: ContentBlock) -> dict[str, Any]:
    """A response block as a JSON-able request block (to send back and to store)."""
    if block.type == "text":
        return {"type": "text", "text": block.text}
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    return block.model_dump(mode="json", exclude_none=True)


def _append_user_text(messages: list[dict[str, Any]], text: str) -> None:
    """Add text to the conversation as the next user turn, merging into a trailing user message."""
    last = messages[-1] if messages else None
    if last is None or last["role"] != "user":
        dangling = [
            b["id"] for b in (last or {}).get("content", []) if isinstance(b, dict) and b.get("type") == "tool_use"
        ]
        closing: list[dict[str, Any]] = [
            {"type": "tool_result", "tool_use_id": use_id, "content": "(The previous run ended here.)"}
            for use_id in dangling
        ]
        messages.append({"role": "user", "content": [*closing, {"type": "text", "text": text}] if closing else text})
        return
    content = last["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    last["content"] = [*blocks, {"type": "text", "text": text}]


def conversation(history: list[dict[str, Any]] | None, text: str) -> list[dict[str, Any]]:
    """A fresh conversation, or ``history`` (re-validated) with ``text`` as the next user turn."""
    messages: list[dict[str, Any]] = []
    for i, message in enumerate(copy.deepcopy(history or [])):
        if (
            not isinstance(message, dict)
            or message.get("role") not in ("user", "assistant")
            or not isinstance(message.get("content"), str | list)
        ):
            raise PersonaRunError(
                f"The follow-up history is malformed at message {i}: each message needs role 'user' or "
                "'assistant' and a content string or list."
            )
        messages.append(message)
    if messages and messages[0]["role"] != "user":
        raise PersonaRunError("The follow-up history is malformed: it must start with a user message.")
    _append_user_text(messages, text)
    return messages


def files_at_head(request: RunRequest, toolbox: RunToolbox) -> ProjectFiles | None:
    """Files a remote client sent; a reviewed range or staged change read from git; else the working tree (None)."""
    if request.supplied_files is not None:
        return SuppliedSnapshot(request.supplied_files, max_file_bytes=toolbox.limits.max_file_bytes)
    if request.changes is None or request.changes.head is None:
        return None
    return GitSnapshot(
        toolbox.project_root,
        request.changes.head,
        max_file_bytes=toolbox.limits.max_file_bytes,
        denied=toolbox.denied_paths,
    )


class PersonaRun:
    """State and steps of one run: ``await PersonaRun(...).execute()`` (what ``run_persona`` does)."""

    def __init__(
        self,
        persona: PersonaDefinition,
        request: RunRequest,
        llm: LLMConfig,
        progress: ProgressSink,
        toolbox: RunToolbox,
        *,
        client: SharedClient | None = None,
    ) -> None:
        self.shared_client = client
        self.persona = persona
        # The persona is told only its own dismissed patterns; any dismissed fingerprint is dropped.
        self.request = request.model_copy(
            update={"dismissed": [d for d in request.dismissed if d.persona == persona.id]}
        )
        self.dropped_ids = {d.id for d in request.dismissed} | set(request.dismissed_ids)
        self.llm = llm
        self.progress = progress
        self.limits = toolbox.limits
        self.tools = RunTools(persona, request.job_id, toolbox, files=files_at_head(request, toolbox))
        self.system = build_system_prompt(persona, self.limits)
        self.started = time.monotonic()
        self.phase: Phase = "initializing"
        self.percent = 0
        self.turns = 0
        self.tool_calls = 0
        self.tokens_input = 0
        self.tokens_output = 0
        self.texts: list[str] = []
        self.activity: list[str] = []
        self.messages: list[dict[str, Any]] = []

    # ---- progress -------------------------------------------------------------------------

    def partial(self) -> str | None:
        parts = list(self.texts)
        if self.activity:
            parts.append("_Work done so far:_\n" + "\n".join(f"- {line}" for line in self.activity[-40:]))
        return "\n\n".join(parts) or None

    async def report(self, message: str, phase: Phase | None = None) -> None:
        if phase is not None and PHASES.index(phase) > PHASES.index(self.phase):
            self.phase = phase  # phases only move forward
        elapsed = time.monotonic() - self.started
        expected = min(self.limits.max_turns, max(EXPECTED_TURNS, self.turns + 1))
        self.percent = max(self.percent, PHASE_FLOOR[self.phase], min(95, int(5 + 85 * self.turns / expected)))
        eta = round(elapsed / self.turns * (expected - self.turns)) if self.turns else None
        await self.progress(
            ProgressUpdate(
                phase=self.phase,
                percent_complete=self.percent,
                message=message,
                eta_seconds=eta,
                tool_calls_completed=self.tool_calls,
                tokens_input=self.tokens_input,
                tokens_output=self.tokens_output,
                partial_result=self.partial(),
            )
        )

    def fail(self, message: str, *, transient: bool = False) -> PersonaRunError:
        return PersonaRunError(message, transient=transient, partial_result=self.partial())

    # ---- the loop -------------------------------------------------------------------------

    async def execute(self) -> RunOutcome:
        await self.report(f"Preparing {self.persona.name}")
        text = await first_user_text(self.request, self.tools.sandbox, self.limits)
        self.tools.review_paths = await asyncio.to_thread(
            files_under_review, self.request, self.tools.toolbox.project_root
        )
        if self.request.changes is not None:
            files = self.request.changes.files
            changed = [p for f in files for p in (f.path, f.old_path) if p]
            self.tools.change_standards = change_standards(changed, self.tools.toolbox)
        self.messages = conversation(self.request.history, text)
        budget = asyncio.timeout(self.limits.max_seconds)
        try:
            async with budget:
                if self.shared_client is not None:
                    outcome = await self._turns(self.shared_client.get())
                else:
                    async with make_client(self.llm) as client:
                        outcome = await self._turns(client)
        except TimeoutError:
            if not budget.expired():
                raise
            raise self.fail(
                f"The run exceeded its time budget of {self.limits.max_seconds:g} s before submitting a review."
            ) from None
        log.info(
            "persona %s job %s: %s after %d turns, %d tool calls, %d/%d tokens, %.1f s",
            self.persona.id,
            self.request.job_id,
            outcome.ended_by,
            self.turns,
            self.tool_calls,
            self.tokens_input,
            self.tokens_output,
            time.monotonic() - self.started,
        )
        return outcome

    def _last_turn_reason(self, turn: int) -> str | None:
        if turn == self.limits.max_turns:
            return f"the turn limit ({self.limits.max_turns}, max_turns)"
        if self.tool_calls >= self.limits.max_tool_calls:
            return f"the tool-call limit ({self.limits.max_tool_calls}, max_tool_calls)"
        if time.monotonic() - self.started > FINISH_AT_FRACTION * self.limits.max_seconds:
            return f"the time budget ({self.limits.max_seconds:g} s)"
        return None

    async def _turns(self, client: anthropic.AsyncAnthropic) -> RunOutcome:
        nudged = False
        for turn in range(1, self.limits.max_turns + 1):
            last_reason = self._last_turn_reason(turn)
            tool_choice: ToolChoiceParam | None = None
            if last_reason is not None:
                can_submit = "submit_review" in self.tools.offered
                _append_user_text(
                    self.messages,
                    f"This is your last turn ({last_reason}): "
                    + ("call submit_review now with what you have." if can_submit else "give your review now."),
                )
                tool_choice = {"type": "tool", "name": "submit_review"} if can_submit else None
            await self.report(f"{self.persona.name} is thinking (turn {turn} of {self.limits.max_turns})")
            response = await self._call(client, tool_choice)
            self.turns = turn
            self.tokens_input += response.usage.input_tokens
            self.tokens_output += response.usage.output_tokens
            if response.content:  # the API refuses empty assistant turns in the history
                self.messages.append({"role": "assistant", "content": [_block_param(b) for b in response.content]})
            text = "\n\n".join(b.text for b in response.content if b.type == "text").strip()
            if text:
                self.texts.append(text)
            uses = [b for b in response.content if b.type == "tool_use"]
            if not uses:
                if text:
                    return self._outcome(render_text_answer(self.persona.name, text, self.tools.proposals), "text")
                if nudged:
                    raise self.fail("The model returned an empty answer twice; no review was produced.")
                nudged = True
                _append_user_text(self.messages, EMPTY_TURN_NUDGE)
                continue
            results = [await self._tool(use, truncated=response.stop_reason == "max_tokens") for use in uses]
            self.messages.append({"role": "user", "content": results})
            if self.tools.review is not None:
                return await self._reviewed()
            if last_reason is not None:
                raise self.fail(f"The run stopped at {last_reason} without submitting a review.")
        raise self.fail(f"The run stopped at the turn limit ({self.limits.max_turns}) without submitting a review.")

    async def _call(self, client: anthropic.AsyncAnthropic, tool_choice: ToolChoiceParam | None) -> Message:
        params = self.tools.params()
        try:
            return await client.messages.create(
                model=self.persona.model or self.llm.default_model,
                system=self.system,
                max_tokens=self.persona.personality.max_tokens,
                messages=cast("list[MessageParam]", self.messages),
                tools=params if params else anthropic.omit,
                tool_choice=tool_choice if tool_choice is not None else anthropic.omit,
                extra_body={"temperature": self.persona.personality.temperature} if self.llm.send_temperature else None,
            )
        except anthropic.APIStatusError as exc:
            error = _status_error(exc, self.llm)
            raise self.fail(str(error), transient=error.transient) from exc
        except anthropic.APITimeoutError as exc:
            raise self.fail(
                f"The Claude API did not answer within {self.llm.timeout_seconds:g} s "
                f"(PERSONAS_LLM_TIMEOUT_SECONDS), after {self.llm.max_retries} retries.",
                transient=True,
            ) from exc
        except anthropic.APIConnectionError as exc:
            where = self.llm.base_url or "the default endpoint"
            raise self.fail(
                f"Cannot reach the Claude API at {where} ({exc}), after {self.llm.max_retries} retries.",
                transient=True,
            ) from exc

    async def _tool(self, use: ToolUseBlock, *, truncated: bool) -> dict[str, Any]:
        phase, message = self.tools.describe(use.name, use.input)
        await self.report(message, phase)
        if truncated:
            result = ToolResult(
                f"Your turn hit the output limit ({self.persona.personality.max_tokens} tokens) and this "
                "call's "
                "input was cut off, so it did not run. Call it again with a shorter input.",
                is_error=True,
            )
        elif use.name != "submit_review" and self.tool_calls >= self.limits.max_tool_calls:
            result = ToolResult(
                f"Tool-call limit reached ({self.limits.max_tool_calls}): this call did not run. "
                "Call submit_review now with the evidence you have.",
                is_error=True,
            )
        else:
            result = await self.tools.run(use.name, use.input)
            self.tool_calls += 1
        self.activity.append(message + (" (refused)" if result.is_error else ""))
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": use.id, "content": result.content}
        if result.is_error:
            block["is_error"] = True
            log.debug("tool %s refused for job %s: %s", use.name, self.request.job_id, result.content)
        return block

    async def _reviewed(self) -> RunOutcome:
        """The submitted review: findings located, fingerprinted, dismissed ones dropped, the rest rendered."""
        review = self.tools.review
        assert review is not None
        findings = await asyncio.to_thread(
            finalize, review.ordered_findings(), self.persona.id, self.request.changes, self.tools.sandbox
        )
        kept = [f for f in findings if f.id not in self.dropped_ids]
        shown = visible(kept, self.request.min_severity, self.request.cited_only)
        result = render_review(
            self.persona.name,
            review.model_copy(update={"findings": shown}),
            self.tools.proposals,
            hidden=len(kept) - len(shown),
        )
        outcome = self._outcome(result, "submit_review", kept, dropped=len(findings) - len(kept))
        outcome.summary = review.summary
        return outcome

    def _outcome(
        self,
        result: str,
        ended_by: Literal["submit_review", "text"],
        findings: list[Finding] | None = None,
        *,
        dropped: int = 0,
    ) -> RunOutcome:
        return RunOutcome(
            mode="review",
            result=result,
            findings=[f.model_dump() for f in findings or []],
            dismissed_dropped=dropped,
            proposals=list(self.tools.proposals),
            ended_by=ended_by,
            tokens_input=self.tokens_input,
            tokens_output=self.tokens_output,
            tool_calls=self.tool_calls,
            turns=self.turns,
            persona_id=self.persona.id,
            persona_version=self.persona.version,
            prompt_hash=prompt_hash(self.system),
            messages=self.messages,
        )
