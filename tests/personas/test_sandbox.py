"""File tools confined to the project root: escapes arrive as the model's tool calls and are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personas.model import PersonaDefinition
from personas.runtime import LLMConfig, RunRequest, RunToolbox, run_persona
from personas.runtime.globs import compile_glob
from personas.runtime.sandbox import ProjectSandbox, SandboxError
from tests.fakes.anthropic_api import FakeAnthropic
from tests.personas.helpers import Progress, call, calls, submit, tool_results

REQUEST = RunRequest(job_id="job-sandbox", task="Review everything")


async def test_escape_attempts_are_tool_errors_and_the_run_continues(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox, tree: Path
) -> None:
    attempts = {
        "../outside/secret.txt": "'..' is refused",
        "api/../../outside/secret.txt": "'..' is refused",
        str(tree.parent / "outside" / "secret.txt"): "Absolute paths are refused",
        str(tree / "api" / "login.py"): "Absolute paths are refused",
        "~/.ssh/id_rsa": "Absolute paths are refused",
        "link_out.txt": "symlink leading outside the project root",
        "dir_out/secret.txt": "symlink leading outside the project root",
        "image.bin": "binary file",
        "latin1.txt": "not UTF-8 text",
        "huge.txt": "5,000 bytes, over the 1,000-byte cap",
        ".env": "holds secrets",
        ".git/config": "internal tool data",
        "api": "is a directory; call list_files('api/**/*')",
        "api/missing.py": "No such file: 'api/missing.py'",
    }
    blocks = [call("read_file", {"path": path}) for path in attempts]
    globs = [call("list_files", {"pattern": "../*"}), call("list_files", {"pattern": "/etc/*"})]
    fine = call("read_file", {"path": "link_in.py"})
    listing = call("list_files", {"pattern": "**/*"})
    fake_api.add(calls(*blocks, *globs, fine, listing), submit("Verdict: read what I could."))

    outcome = await run_persona(security, REQUEST, llm, Progress(), toolbox)

    results = {r["tool_use_id"]: r for r in tool_results(fake_api.requests[1])}
    for block, expected in zip(blocks, attempts.values(), strict=True):
        result = results[block["id"]]
        assert result.get("is_error") is True, block
        assert expected in result["content"], (block["input"], result["content"])
    for block in globs:
        assert results[block["id"]]["is_error"] is True
    assert "def helper" in results[fine["id"]]["content"]
    listed = results[listing["id"]]["content"].splitlines()[1:]
    assert "api/login.py" in listed
    assert "link_in.py" in listed
    assert ".env" in listed
    assert not {"link_out.txt", "dir_out/secret.txt", ".git/config", "node_modules/pkg/index.js"} & set(listed)
    assert outcome.ended_by == "submit_review"
    sent = json.dumps(fake_api.requests)
    assert "TOP-SECRET-OUTSIDE" not in sent
    assert "sk-live-SECRET" not in sent
    assert "token@example" not in sent


async def test_read_file_line_ranges(
    fake_api: FakeAnthropic, llm: LLMConfig, security: PersonaDefinition, toolbox: RunToolbox
) -> None:
    ranged = call("read_file", {"path": "api/login.py", "start_line": 4, "end_line": 5})
    past_end = call("read_file", {"path": "api/login.py", "start_line": 99})
    backwards = call("read_file", {"path": "api/login.py", "start_line": 5, "end_line": 2})
    fake_api.add(calls(ranged, past_end, backwards), submit())

    await run_persona(security, REQUEST, llm, Progress(), toolbox)

    results = {r["tool_use_id"]: r for r in tool_results(fake_api.requests[1])}
    assert results[ranged["id"]]["content"] == (
        'api/login.py (lines 4-5 of 6):\n<data source="api/login.py">\n4 | def login(token):\n'
        '5 |     claims = jwt.decode(token, options={"verify_signature": False})\n</data>'
    )
    assert "has 6 lines; start_line 99 is past the end" in results[past_end["id"]]["content"]
    assert "end_line must be >= start_line" in results[backwards["id"]]["content"]


def test_denied_paths_cover_the_data_dir(tree: Path) -> None:
    (tree / ".agent-os" / "data").mkdir(parents=True)
    (tree / ".agent-os" / "data" / "notes.txt").write_text("jobs")
    (tree / ".agent-os" / "standards").mkdir()
    (tree / ".agent-os" / "standards" / "rule.md").write_text("# Rule\n")
    sandbox = ProjectSandbox(tree, max_file_bytes=1_000, denied=[Path(".agent-os/data")])

    with pytest.raises(SandboxError, match="internal tool data"):
        sandbox.read_text(".agent-os/data/notes.txt")
    assert sandbox.read_text(".agent-os/standards/rule.md").text == "# Rule\n"
    files, _ = sandbox.list_files("**/*.txt", limit=100)
    assert ".agent-os/data/notes.txt" not in files


def test_internal_folders_are_refused_in_any_letter_case(tree: Path) -> None:
    """On a case-insensitive file system (macOS's and Windows' default) '.GIT/config' is '.git/config'
    and '.agent-os/DATA/redis.json' the data dir's Redis URL with its password: the checks compared
    names case-sensitively. Here (case-sensitive) such folders stand in for them."""
    for folder in (".GIT", ".Hg", ".agent-os/DATA"):
        (tree / folder).mkdir(parents=True)
        (tree / folder / "config").write_text('{"url": "redis://:secret@127.0.0.1:6379/0"}\n')
    sandbox = ProjectSandbox(tree, max_file_bytes=1_000, denied=[Path(".agent-os/data")])

    for folder in (".GIT", ".Hg", ".agent-os/DATA"):
        with pytest.raises(SandboxError, match="internal tool data"):
            sandbox.read_text(f"{folder}/config")
    files, _ = sandbox.list_files("**/*", limit=1_000)
    assert not [f for f in files if f.lower().startswith((".git/", ".hg/", ".agent-os/data/"))], files


def test_list_files_limit_reports_the_total(tree: Path) -> None:
    for i in range(30):
        (tree / "api" / f"m{i:02}.py").write_text("")
    files, total = ProjectSandbox(tree, max_file_bytes=1_000).list_files("api/*.py", limit=10)
    assert len(files) == 10
    assert total == 32
    assert files == sorted(files)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.py", "app.py", True),
        ("*.py", "api/app.py", False),
        ("**/*.py", "app.py", True),
        ("**/*.py", "a/b/c.py", True),
        ("api/**", "api/x/y.txt", True),
        ("src/*.{yml,yaml}", "src/ci.yaml", True),
        ("src/*.{yml,yaml}", "src/ci.json", False),
        ("file?.md", "file1.md", True),
        ("file[0-9].md", "filex.md", False),
        ("file[!0-9].md", "filex.md", True),
        ("a+b(c).txt", "a+b(c).txt", True),
    ],
)
def test_glob_semantics(pattern: str, path: str, matches: bool) -> None:
    assert compile_glob(pattern).match(path) is matches


@pytest.mark.parametrize("root", ["/", "/etc", "/proc"])
def test_the_file_systems_root_or_a_system_folder_is_never_a_project(root: str) -> None:
    """PERSONAS_PROJECT_ROOT=/ by mistake (or a service started in /) must not hand the model the system's
    files: /etc/shadow to a server running as root, other users' homes."""
    sandbox = ProjectSandbox(Path(root), max_file_bytes=100_000)
    with pytest.raises(SandboxError, match="PERSONAS_PROJECT_ROOT"):
        sandbox.read_text("etc/hostname" if root == "/" else "hostname")
    with pytest.raises(SandboxError, match="PERSONAS_PROJECT_ROOT"):
        sandbox.list_files("*", limit=10)
