"""Run one persona on one task: a Claude tool-use loop (or, without an API key, a briefing).

This package knows nothing of queues or MCP: the worker passes the persona, the request, the LLM
configuration, a progress sink and a :class:`RunToolbox` (project root, standards search, proposal
sink, limits), and gets a :class:`RunOutcome` back or a :class:`PersonaRunError`.

Importing this package is cheap: each name below is imported from its module on first use (PEP 562),
so the MCP server answering ``tools/list`` (which needs a few of the result models and the sandbox's
system folders) never loads the briefing, the prompt or the toolbox.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING

from standards.lazy_names import lazy_names

if TYPE_CHECKING:
    from personas.model import PersonaDefinition
    from personas.runtime.client import SharedClient
    from personas.runtime.models import (
        LLMConfig,
        PersonaRunError,
        Phase,
        ProgressSink,
        ProgressUpdate,
        RunLimits,
        RunOutcome,
        RunRequest,
    )
    from personas.runtime.review import Finding, ReviewSubmission
    from personas.runtime.toolbox import (
        ProposalSink,
        RunToolbox,
        SearchHitLike,
        SearchResponseLike,
        StandardsSearch,
    )

#: Where each name of this package lives.
_HOMES = {
    "SharedClient": "personas.runtime.client",
    "LLMConfig": "personas.runtime.models",
    "PersonaRunError": "personas.runtime.models",
    "Phase": "personas.runtime.models",
    "ProgressSink": "personas.runtime.models",
    "ProgressUpdate": "personas.runtime.models",
    "RunLimits": "personas.runtime.models",
    "RunOutcome": "personas.runtime.models",
    "RunRequest": "personas.runtime.models",
    "Finding": "personas.runtime.review",
    "ReviewSubmission": "personas.runtime.review",
    "ProposalSink": "personas.runtime.toolbox",
    "RunToolbox": "personas.runtime.toolbox",
    "SearchHitLike": "personas.runtime.toolbox",
    "SearchResponseLike": "personas.runtime.toolbox",
    "StandardsSearch": "personas.runtime.toolbox",
}


__getattr__ = lazy_names(__name__, _HOMES, globals())


__all__ = [
    "Finding",
    "LLMConfig",
    "PersonaRunError",
    "Phase",
    "ProgressSink",
    "ProgressUpdate",
    "ProposalSink",
    "ReviewSubmission",
    "RunLimits",
    "RunOutcome",
    "RunRequest",
    "RunToolbox",
    "SearchHitLike",
    "SearchResponseLike",
    "SharedClient",
    "StandardsSearch",
    "run_persona",
]


async def run_persona(
    persona: PersonaDefinition,
    request: RunRequest,
    llm: LLMConfig,
    progress: ProgressSink,
    toolbox: RunToolbox | None = None,
    *,
    client: SharedClient | None = None,
) -> RunOutcome:
    """Run ``persona`` on ``request``. Without ``toolbox``: project root = cwd, no search, no proposals.

    Raises :class:`PersonaRunError` (``transient``, ``partial_result``) when the run fails.
    """
    from personas.runtime.briefing import briefing
    from personas.runtime.toolbox import RunToolbox

    toolbox = toolbox or RunToolbox.default()
    if not llm.api_key:
        return await briefing(persona, request, toolbox)
    # The loop imports anthropic (1-2 s of CPU in a fresh process): only when a run needs it, and on a
    # thread, so the first runs do not freeze the event loop (tool calls, lease heartbeats) meanwhile.
    # Always through the thread: a concurrent run importing it on the loop would wait for the lock.
    await asyncio.to_thread(importlib.import_module, "personas.runtime.loop")
    from personas.runtime.loop import PersonaRun

    return await PersonaRun(persona, request, llm, progress, toolbox, client=client).execute()
