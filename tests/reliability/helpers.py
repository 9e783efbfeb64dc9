"""Small helpers for driving the server through the real MCP client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp import Client

from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake

TERMINAL = ("complete", "failed", "cancelled")


async def call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    """Call a tool that must succeed; its structured reply."""
    result = await client.call_tool(tool, args)
    assert not result.is_error, (tool, result.content)
    content: dict[str, Any] | None = result.structured_content
    assert content is not None, tool
    return content


async def invoke(client: Client, task: str, persona: str = "security", **args: Any) -> str:
    return str((await call(client, f"invoke_{persona}", task=task, **args))["job_id"])


async def finished(client: Client, job_id: str, timeout: float = 30) -> dict[str, Any]:
    """Poll check_persona_job until the job is complete, failed or cancelled."""

    async def probe() -> dict[str, Any] | None:
        report = await call(client, "check_persona_job", job_id=job_id)
        return report if report["status"] in TERMINAL else None

    return await wait_for(probe, timeout=timeout, what=f"job {job_id} to finish")


async def count_with_status(client: Client, status: str) -> int:
    return int((await call(client, "list_persona_jobs", status=status, limit=100))["filtered_count"])


def first_user_text(request: dict[str, Any]) -> str:
    """The first user message of a recorded Messages API request (holds the task)."""
    content = request["messages"][0]["content"]
    return content if isinstance(content, str) else str(content)


@dataclass
class SlowThenFast:
    """A fake-API reply that is slow (``slow`` s) until ``fast`` is set: holds runs in flight."""

    slow: float = 30.0
    quick: float = 0.02
    fast: bool = False

    def __call__(self, request: dict[str, Any]) -> fake.Reply:
        reply = fake.text(f"Review done for: {first_user_text(request)[:60]}")
        reply.delay = self.quick if self.fast else self.slow
        return reply
