"""One Anthropic client per worker process, shared by its concurrent runs.

Building an ``AsyncAnthropic`` costs ~20 ms of blocking CPU (SSL context) and opens a new
connection pool; sharing one keeps a worker's event loop free under 100+ concurrent runs.
The client (and the ``anthropic`` import) is created on first use, not at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from personas.runtime.models import LLMConfig

if TYPE_CHECKING:
    import anthropic


class SharedClient:
    def __init__(self, llm: LLMConfig) -> None:
        self.llm = llm
        self._client: anthropic.AsyncAnthropic | None = None

    def get(self) -> anthropic.AsyncAnthropic:
        if self._client is None:
            from personas.runtime.loop import make_client

            self._client = make_client(self.llm)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
