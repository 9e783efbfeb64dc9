"""`personas doctor` says what is wrong and how to fix it."""

from __future__ import annotations

import io
from collections.abc import Callable

from mcp_server.doctor import run_doctor
from mcp_server.settings import Settings


async def test_healthy_setup_passes(make_settings: Callable[..., Settings], redis_url: str) -> None:
    out = io.StringIO()
    code = await run_doctor(make_settings(redis_url=redis_url, anthropic_api_key="sk-test"), out)
    report = out.getvalue()
    assert code == 0, report
    assert "[ok  ] redis: reachable" in report
    assert "[ok  ] embedding model" in report
    assert "[warn] standards index: not built yet" in report
    assert "fix: personas index" in report


async def test_unreachable_redis_fails_with_the_fix(make_settings: Callable[..., Settings]) -> None:
    out = io.StringIO()
    code = await run_doctor(make_settings(redis_url="redis://127.0.0.1:1/0"), out)
    report = out.getvalue()
    assert code == 1
    assert "[FAIL] redis: 127.0.0.1:1" in report
    assert "fix: start Redis there, or unset REDIS_URL" in report
    assert "[warn] api key: ANTHROPIC_API_KEY is not set" in report
