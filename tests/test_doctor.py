"""`personas doctor` says what is wrong and how to fix it."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from mcp_server.doctor import check_project_root, run_doctor
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


def test_doctor_says_whether_client_roots_can_move_the_project_root(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = check_project_root(make_settings())  # make_settings passes project_root, as PERSONAS_PROJECT_ROOT
    assert "PERSONAS_PROJECT_ROOT: clients' MCP roots never move it" in explicit.detail
    monkeypatch.chdir(tmp_path)  # make_settings cleared PERSONAS_*: the project is the working directory
    cwd = Settings(embedder="hashing")
    assert str(tmp_path.resolve()) in check_project_root(cwd).detail
    assert "off loopback or with --remote-clients ignores client roots" in check_project_root(cwd).detail
    remote = Settings(embedder="hashing", remote_clients=True)
    assert "client roots are ignored: the server serves remote clients" in check_project_root(remote).detail


def test_doctor_fails_on_a_persona_file_that_did_not_load(make_settings: Callable[..., Settings]) -> None:
    from mcp_server.doctor_sources import source_checks

    settings = make_settings()
    assert next(c for c in source_checks(settings) if c.name == "personas").ok
    broken = settings.personas_dir / "payments.md"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("---\nnme: Payments\ndescription: Reviews payment code.\n---\n" + "Review payments. " * 5)
    check = next(c for c in source_checks(settings) if c.name == "personas")
    assert not check.ok and not check.warning  # a persona the user wrote is missing: a failure
    assert f"1 file(s) skipped: {broken}: " in check.detail
    assert "(did you mean 'name'?)" in check.detail
    assert "personas new ID" in check.fix
