"""A careless user's mistakes each get one line naming the path or variable, the cause and the fix:
never a traceback, nothing lost."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mcp_server.project_root import find_project_root
from tests.newuser.cli_run import personas
from tests.newuser.cli_run import standards_project as _project


def test_remote_clients_set_for_a_stdio_server_is_refused_with_the_fix(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = personas("serve", cwd=project, PERSONAS_REMOTE_CLIENTS="true", timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""  # stdout is the MCP channel
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "PERSONAS_REMOTE_CLIENTS=true needs --http" in done.stderr
    assert "Unset PERSONAS_REMOTE_CLIENTS" in done.stderr


@pytest.mark.parametrize("argv", [("search", "okapi"), ("findings", "list"), ("desk", "--port", "0")])
def test_a_data_dir_that_cannot_be_made_is_one_line_naming_it(tmp_path: Path, argv: tuple[str, ...]) -> None:
    project = _project(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    data_dir = blocker / "data"  # cannot be created under a file (a root user passes permission checks)
    done = personas(*argv, cwd=project, PERSONAS_DATA_DIR=str(data_dir))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert f"personas {argv[0]}: " in done.stderr and str(data_dir) in done.stderr
    assert "PERSONAS_DATA_DIR" in done.stderr  # the fix


def test_a_command_run_from_a_subfolder_works_on_the_project(tmp_path: Path) -> None:
    project = _project(tmp_path)
    deep = project / "src" / "api"
    deep.mkdir(parents=True)
    done = personas("search", "okapi cursors", "--json", cwd=deep)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"][0]["file"] == "api/paging.md"  # the project's own standard
    assert not (deep / ".agent-os").exists() and not (project / "src" / ".agent-os").exists()
    doctor = personas("doctor", cwd=deep)
    assert f"project root: {project.resolve()} (nearest folder above the working directory" in doctor.stdout


def test_project_root_is_the_nearest_folder_with_agent_os_or_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    repo = home / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "sub" / "pkg" / ".agent-os").mkdir(parents=True)
    (repo / "sub" / "pkg" / "src").mkdir()
    (repo / "docs").mkdir()
    (home / ".agent-os").mkdir()  # a stray one in the home folder
    (home / "scratch" / "x").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    assert find_project_root(repo / "sub" / "pkg" / "src") == repo / "sub" / "pkg"  # the nearest wins
    assert find_project_root(repo / "docs") == repo  # a git work tree
    assert find_project_root(repo) == repo
    assert find_project_root(home / "scratch" / "x") == home / "scratch" / "x"  # never home's from below
    assert find_project_root(home) == home
    monkeypatch.chdir(repo / "docs")
    assert find_project_root() == repo


def test_a_standards_dir_that_is_a_file_is_named_with_the_fix(tmp_path: Path) -> None:
    project = _project(tmp_path)
    notes = project / "NOTES.md"
    notes.write_text("# Notes\n")
    done = personas("search", "okapi cursors", cwd=project, PERSONAS_STANDARDS_DIR="NOTES.md")
    assert done.returncode == 0, done.stderr  # the other sources still answer
    (warning,) = done.stderr.splitlines()
    assert f"PERSONAS_STANDARDS_DIR: {notes} is a file, not a folder" in warning
    assert "Point PERSONAS_STANDARDS_DIR at the folder" in warning


def test_a_project_in_a_folder_of_ours_open_to_all_is_found_from_a_subfolder(tmp_path: Path) -> None:
    """On WSL's /mnt/c (and FAT or SMB mounts) every folder is 0777 and the user's: the walk-up stopped at
    the first one, so a command run in the project's src/ made a new empty project there."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src" / "api").mkdir(parents=True)
    for folder in (repo, repo / "src", repo / "src" / "api"):
        folder.chmod(0o777)
    assert find_project_root(repo / "src" / "api") == repo

    shared = tmp_path / "shared"  # a shared temp folder (sticky) is still a stop, even one of ours
    (shared / ".agent-os").mkdir(parents=True)
    (shared / "scratch").mkdir()
    shared.chmod(0o1777)
    assert find_project_root(shared / "scratch") == shared / "scratch"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to plant another user's folder")
def test_another_users_agent_os_in_a_shared_folder_is_never_the_project(tmp_path: Path) -> None:
    """A server started in /tmp/scratch (no .git) walked up to /tmp: another local user's
    /tmp/.agent-os/personas/security.md became the project's security persona."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    planted = shared / ".agent-os" / "personas"
    planted.mkdir(parents=True)
    os.chown(shared / ".agent-os", 65534, 65534)
    work = shared / "scratch" / "src"
    work.mkdir(parents=True)
    assert find_project_root(work) == work  # not the world-writable folder above

    private = tmp_path / "private"  # not world-writable, but the marker is another user's
    (private / ".agent-os").mkdir(parents=True)
    os.chown(private / ".agent-os", 65534, 65534)
    (private / "src").mkdir()
    assert find_project_root(private / "src") == private / "src"
    os.chown(private / ".agent-os", os.getuid(), os.getgid())
    assert find_project_root(private / "src") == private  # the user's own marker still counts


def test_search_usage_mistakes_name_the_command_and_the_range(tmp_path: Path) -> None:
    project = _project(tmp_path)
    for limit in ("0", "51", "many"):  # refused by the parser, before any index is opened
        done = personas("search", "okapi", "--limit", limit, cwd=project)
        assert done.returncode == 2 and "argument --limit:" in done.stderr and "(1-50)" in done.stderr, done.stderr
        assert not (project / ".agent-os" / "data").exists()
    empty = personas("search", "", cwd=project)
    assert empty.returncode == 2 and empty.stderr.splitlines()[-1] == "personas search: query must not be empty"
