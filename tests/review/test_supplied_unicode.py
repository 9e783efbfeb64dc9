"""Client-supplied paths with invisible or bidi formatting characters are refused like control
characters: 'src/\\u202eyp.nigol' shows as 'src/login.py' in the desk, a terminal or the model's view."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from personas.changes.supplied import SuppliedCodeError, SuppliedLimits, check_supplied, supplied_changes

TRICKS = ["src/\u202eyp.nigol", "src/app\u200b.py", "src/a\x85b.py", "src/a\u2028b.py", "src/\u2066x\u2069.py"]


@pytest.mark.parametrize("path", TRICKS)
def test_files_and_diff_paths_with_formatting_characters_are_refused(path: str) -> None:
    with pytest.raises(SuppliedCodeError, match="control characters"):
        check_supplied({path: "x = 1\n"}, None, SuppliedLimits())
    with pytest.raises(SuppliedCodeError, match=r"diff: .*control characters"):
        supplied_changes(
            f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n", max_diff_chars=1000
        )


async def test_over_mcp_the_tool_error_names_the_path(make_settings: Callable[..., Settings], redis_url: str) -> None:
    settings = make_settings(redis_url=redis_url, remote_clients=True)
    async with Client(build_server(settings, watch=False)) as client:
        answer = await client.call_tool("invoke_qa", {"task": "review", "files": {TRICKS[0]: "x = 1\n"}})
    text = "".join(getattr(c, "text", "") for c in answer.content)
    assert answer.is_error and "control characters" in text and "\\u202e" in text
