"""A panel job: several personas review the same task concurrently as one job.

Each persona is a sub-run with its own progress, tokens and partial result (``JobState.panel_runs``,
shown by check_persona_job). The job's progress is their mean; when all have ended, their findings
are merged (see :mod:`personas.report.merge`) into one report with a summary per persona. A
persona that fails is reported as failed while the others are still merged; the job fails only
when every persona failed. Cancelling the job cancels the task that gathers the sub-runs, and with
it every sub-run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from personas.model import PersonaDefinition
from personas.report.merge import merge_findings
from personas.runtime import PersonaRunError, ProgressUpdate, RunOutcome, RunRequest, run_persona
from personas.runtime.findings import visible
from personas.runtime.review import Finding, render_findings

log = logging.getLogger(__name__)

MAX_PANEL_PARTIAL_CHARS = 4_000
PanelSink = Callable[[ProgressUpdate, list[dict[str, Any]]], Awaitable[None]]


class PanelFailedError(PersonaRunError):
    """Every persona of the panel failed."""


@dataclass
class PanelOutcome:
    result: str
    findings: list[dict[str, Any]]
    proposals: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    tokens_input: int = 0
    tokens_output: int = 0
    tool_calls: int = 0
    outcomes: dict[str, RunOutcome] = field(default_factory=dict)


def initial_runs(persona_ids: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "persona": p,
            "status": "pending",
            "percent": 0,
            "message": "Waiting for the panel to start",
            "findings": 0,
            "tokens_input": 0,
            "tokens_output": 0,
            "tool_calls": 0,
            "error": None,
            "partial_result": None,
        }
        for p in persona_ids
    ]


class Panel:
    def __init__(
        self,
        members: list[PersonaDefinition],
        request: RunRequest,
        run: Callable[[PersonaDefinition, RunRequest, Any], Awaitable[RunOutcome]],
        sink: PanelSink,
    ) -> None:
        self.members = members
        self.request = request
        self.run = run
        self.sink = sink
        self.runs = initial_runs([m.id for m in members])

    async def _flush(self) -> None:
        done = sum(1 for r in self.runs if r["status"] in ("complete", "failed"))
        percent = sum(int(r["percent"]) for r in self.runs) // len(self.runs)
        message = " · ".join(
            f"{r['persona']} {r['status'] if r['status'] in ('complete', 'failed') else str(r['percent']) + '%'}"
            for r in self.runs
        )
        partial = "\n\n".join(f"## {r['persona']}\n{r['partial_result']}" for r in self.runs if r["partial_result"])
        update = ProgressUpdate(
            phase="generating" if done == len(self.runs) else "analyzing",
            percent_complete=min(99, percent),
            message=f"Panel ({done}/{len(self.runs)} done): {message}",
            tool_calls_completed=sum(int(r["tool_calls"]) for r in self.runs),
            tokens_input=sum(int(r["tokens_input"]) for r in self.runs),
            tokens_output=sum(int(r["tokens_output"]) for r in self.runs),
            partial_result=partial or None,
        )
        await self.sink(update, [dict(r) for r in self.runs])

    async def _member(self, index: int, persona: PersonaDefinition) -> RunOutcome | None:
        state = self.runs[index]

        async def progress(update: ProgressUpdate) -> None:
            partial = update.partial_result
            state.update(
                status="running",
                percent=update.percent_complete,
                message=update.message,
                tokens_input=update.tokens_input,
                tokens_output=update.tokens_output,
                tool_calls=update.tool_calls_completed,
                partial_result=partial[-MAX_PANEL_PARTIAL_CHARS:] if partial else state["partial_result"],
            )
            await self._flush()

        state.update(status="running", message="Starting")
        try:
            outcome = await self.run(persona, self.request, progress)
        except PersonaRunError as exc:
            state.update(status="failed", error=str(exc), message="Failed")
            if exc.partial_result:
                state["partial_result"] = exc.partial_result[-MAX_PANEL_PARTIAL_CHARS:]
            await self._flush()
            return None
        except Exception as exc:  # a bug in one sub-run must not lose the others
            log.exception("panel job %s: the %s sub-run crashed", self.request.job_id, persona.id)
            state.update(status="failed", error=f"Internal error ({type(exc).__name__}: {exc})", message="Failed")
            await self._flush()
            return None
        state.update(
            status="complete",
            percent=100,
            message="Complete",
            findings=len(outcome.findings),
            tokens_input=outcome.tokens_input,
            tokens_output=outcome.tokens_output,
            tool_calls=outcome.tool_calls,
            partial_result=None,
        )
        await self._flush()
        return outcome

    async def execute(self) -> PanelOutcome:
        await self._flush()
        results = await asyncio.gather(*(self._member(i, p) for i, p in enumerate(self.members)))
        outcomes = {p.id: o for p, o in zip(self.members, results, strict=True) if o is not None}
        if not outcomes:
            errors = "; ".join(f"{r['persona']}: {r['error']}" for r in self.runs)
            partial = "\n\n".join(f"## {r['persona']}\n{r['partial_result']}" for r in self.runs if r["partial_result"])
            raise PanelFailedError(f"Every persona of the panel failed. {errors}", partial_result=partial or None)
        raised = [Finding.model_validate(f) for o in outcomes.values() for f in o.findings]
        merged = merge_findings(raised)
        return PanelOutcome(
            result=self._render(outcomes, merged),
            findings=[f.model_dump() for f in merged],
            proposals=[p for o in outcomes.values() for p in o.proposals],
            runs=self.runs,
            tokens_input=sum(o.tokens_input for o in outcomes.values()),
            tokens_output=sum(o.tokens_output for o in outcomes.values()),
            tool_calls=sum(o.tool_calls for o in outcomes.values()),
            outcomes=outcomes,
        )

    def _render(self, outcomes: dict[str, RunOutcome], merged: list[Finding]) -> str:
        names = {m.id: m.name for m in self.members}
        rows = ["| Persona | Status | Findings | Tokens in / out |", "|---|---|---|---|"]
        for run in self.runs:
            status = run["status"] if not run["error"] else f"failed: {' '.join(str(run['error']).split())[:200]}"
            rows.append(
                f"| {names[run['persona']]} | {status} | {run['findings']} | "
                f"{run['tokens_input']} / {run['tokens_output']} |"
            )
        parts = [f"# Panel review: {', '.join(names.values())}", "\n".join(rows)]
        summaries = [f"### {names[pid]}\n\n{(o.summary or o.result).strip()}" for pid, o in outcomes.items()]
        parts.append("## Summaries\n\n" + "\n\n".join(summaries))
        shown = visible(merged, self.request.min_severity, self.request.cited_only)
        parts += render_findings(shown, hidden=len(merged) - len(shown), by_persona=True)
        return "\n\n".join(parts) + "\n"


async def execute_panel(
    members: list[PersonaDefinition],
    request: RunRequest,
    run: Callable[[PersonaDefinition, RunRequest, Any], Awaitable[RunOutcome]],
    sink: PanelSink,
) -> PanelOutcome:
    return await Panel(members, request, run, sink).execute()


__all__ = ["PanelFailedError", "PanelOutcome", "execute_panel", "initial_runs", "run_persona"]
