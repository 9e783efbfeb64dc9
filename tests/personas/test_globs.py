"""list_files patterns: bounded, linear-time, and a bad pattern is a tool error the model can fix."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from personas.model import PersonaDefinition
from personas.runtime import LLMConfig, RunRequest, RunToolbox, run_persona
from personas.runtime.globs import MAX_ALTERNATIVES, GlobError, compile_glob
from personas.runtime.sandbox import ProjectSandbox, SandboxError
from tests.fakes.anthropic_api import FakeAnthropic
from tests.personas.helpers import Progress, call, calls, submit, tool_results

REQUEST = RunRequest(job_id="job-globs", task="Review everything")
E_NAME = "e" * 200 + "x.txt"


def _finishes(work: Callable[[], tuple[list[str], int]]) -> tuple[list[str], int]:
    """Run ``work`` in a thread; a deadline turns a regression into a failure instead of a hung suite."""
    result: list[tuple[list[str], int]] = []
    worker = threading.Thread(target=lambda: result.append(work()), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert result, "matching did not finish"
    return result[0]


async def test_hostile_patterns_are_tool_errors_and_the_run_goes_on(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox, tree: Path
) -> None:
    (tree / "deep" / ("e" * 100)).mkdir(parents=True)
    (tree / "deep" / ("e" * 100) / E_NAME).write_text("x")
    stars = call("list_files", {"pattern": "**e" * 8})
    braces = call("list_files", {"pattern": "{a,b}" * 19})
    bad_range = call("list_files", {"pattern": "[z-a]*"})
    good = call("list_files", {"pattern": "api/*.{py,txt}"})
    fake_api.add(calls(stars, braces, bad_range, good), submit("Verdict: listed what I could."))

    outcome = await run_persona(security, REQUEST, llm, Progress(), toolbox)

    results = {r["tool_use_id"]: r for r in tool_results(fake_api.requests[1])}
    assert not results[stars["id"]].get("is_error")
    assert "No files match" in results[stars["id"]]["content"]  # '**e' is '*e' within one name
    assert results[braces["id"]]["is_error"] is True
    assert f"more than {MAX_ALTERNATIVES} alternatives" in results[braces["id"]]["content"]
    assert results[bad_range["id"]]["is_error"] is True
    assert "invalid character range 'z-a'" in results[bad_range["id"]]["content"]
    assert "api/login.py" in results[good["id"]]["content"]
    assert outcome.ended_by == "submit_review"


def test_many_double_stars_match_long_names_in_linear_time(tree: Path) -> None:
    (tree / "deep" / ("e" * 100)).mkdir(parents=True)
    (tree / "deep" / ("e" * 100) / E_NAME).write_text("x")
    (tree / ("e" * 250)).write_text("x")
    sandbox = ProjectSandbox(tree, max_file_bytes=1_000)
    files, total = _finishes(lambda: sandbox.list_files("**e" * 8, limit=10))
    assert files == ["e" * 250]
    assert total == 1
    deep = _finishes(lambda: sandbox.list_files("**/" + "*e" * 8 + "*/**/*x.txt", limit=10))
    assert deep == ([f"deep/{'e' * 100}/{E_NAME}"], 1)


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("{a,b}" * 19, "alternatives"),
        ("{a,b,c,d,e,f}{g,h,i,j,k,l}", "alternatives"),
        ("[z-a]*", "invalid character range"),
        ("x" * 301, "the limit is 300"),
        ("/".join(["a"] * 40), "folder levels"),
    ],
)
def test_pattern_bounds(pattern: str, says: str) -> None:
    with pytest.raises(GlobError, match=says):
        compile_glob(pattern)


def test_bad_pattern_is_a_sandbox_error(tree: Path) -> None:
    with pytest.raises(SandboxError, match="invalid character range"):
        ProjectSandbox(tree, max_file_bytes=1_000).list_files("[z-a]*", limit=10)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**", "a/b/c", True),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/x/y/c", False),
        ("**/**/*.py", "x.py", True),
        ("{src,lib}/**/*.{py,pyi}", "lib/a/b.pyi", True),
        ("{src,lib}/**/*.{py,pyi}", "doc/a/b.py", False),
        ("src/**.py", "src/a.py", True),
        ("src/**.py", "src/a/b.py", False),
        ("./api/*.py", "api/x.py", True),
    ],
)
def test_segment_semantics(pattern: str, path: str, matches: bool) -> None:
    assert compile_glob(pattern).match(path) is matches
