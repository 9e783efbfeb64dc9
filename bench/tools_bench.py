"""Size of what ``tools/list`` puts in every conversation, per tool profile (PERSONAS_TOOLS).

Starts the real server in-process for each profile (embedded Redis, no worker, the hashing
embedder: the tool list does not depend on the model), lists the tools through the MCP SDK
client and prints the bytes of the JSON result as the wire carries it (compact), with a rough
token count (bytes / 4) and the largest tools. Asserts nothing. Usage:
    .venv/bin/python -m bench.tools_bench
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any, Literal

from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from mcp_server.tools.profiles import PROFILES

PersonaTools = Literal["each", "single"]
BUDGET_BYTES = 15_000
"""The default profile's budget with the six core personas (issue 14)."""


def tool_bytes(tool: dict[str, Any]) -> int:
    return len(json.dumps(tool, separators=(",", ":"), ensure_ascii=False).encode())


async def list_tools(settings: Settings) -> list[dict[str, Any]]:
    async with Client(build_server(settings, run_worker=False, watch=False)) as client:
        result = await client.list_tools()
    return [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in result.tools]


async def main() -> None:
    each: PersonaTools = "each"
    single: PersonaTools = "single"
    plans = [(profile, each) for profile in PROFILES] + [("developer", single), ("all", single)]
    with tempfile.TemporaryDirectory() as tmp:
        for profile, persona_tools in plans:
            settings = Settings(project_root=Path(tmp), embedder="hashing", tools=profile, persona_tools=persona_tools)
            tools = await list_tools(settings)
            total = len(json.dumps({"tools": tools}, separators=(",", ":"), ensure_ascii=False).encode())
            label = f"{profile} ({persona_tools})"
            flag = ""
            if profile == "developer" and persona_tools == "each":
                verdict = "within" if total <= BUDGET_BYTES else "OVER"
                flag = f"  ({verdict} the {BUDGET_BYTES:,} B budget)"
            print(f"tools/list {label:<20} {len(tools):3} tools  {total:7,} B  ~{total // 4:6,} tokens{flag}")
            biggest = sorted(tools, key=tool_bytes, reverse=True)[:3]
            print("    largest: " + ", ".join(f"{t['name']} {tool_bytes(t):,} B" for t in biggest))


if __name__ == "__main__":
    asyncio.run(main())
