"""The data dir is private (0700, files 0600), and an unusable one (a file in the way, a full disk,
an unwritable Redis log) is told as path, cause and fix: at start and on every tool, never as a
traceback or "Error executing tool"."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client

from mcp_server.app import open_app
from mcp_server.cli import main
from mcp_server.data_dir import DataDirError, prepare_data_dir
from mcp_server.doctor import check_data_dir
from mcp_server.embedded import EmbeddedRedisError, embedded_redis
from mcp_server.server import build_server
from mcp_server.settings import Settings
from personas.registry import PersonaRegistry
from tests.jobs.conftest import JobHarness
from worker.errors import JobStorageError
from worker.storage_errors import storage_problem


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_server_makes_the_data_dir_0700_and_its_files_0600(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(redis_url=redis_url)
    settings.data_dir.mkdir(parents=True)
    settings.data_dir.chmod(0o755)
    personas = PersonaRegistry.load(settings.personas_dir)
    async with open_app(settings, personas, run_worker=False, watch=False):
        assert _mode(settings.data_dir) == 0o700
        files = [p for p in settings.data_dir.iterdir() if p.is_file()]
        assert {p.name for p in files} >= {"jobs.sqlite3", "proposals.sqlite3"}
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}


async def test_a_file_in_place_of_the_data_dir_is_told_on_every_tool(
    make_settings: Callable[..., Settings], redis_url: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings = make_settings(redis_url=redis_url, data_dir=blocker)
    async with Client(build_server(settings, watch=False)) as client:
        result = await client.call_tool("invoke_qa", {"task": "review app.py"})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert str(blocker) in text and "a file is in the way" in text and "PERSONAS_DATA_DIR" in text


def test_git_ignores_the_data_dir_so_job_history_is_not_committed(tmp_path: Path) -> None:
    import subprocess

    project = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    data_dir = project / ".agent-os" / "data"
    prepare_data_dir(data_dir)
    (data_dir / "jobs.sqlite3").write_bytes(b"code under review")
    (project / ".agent-os" / "standards").mkdir()
    (project / ".agent-os" / "standards" / "api.md").write_text("# API\n")  # the team's: committed
    status = subprocess.run(
        ["git", "-C", str(project), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status.splitlines() == ["?? .agent-os/standards/api.md"]
    (data_dir / ".gitignore").write_text("jobs.sqlite3\n")  # the user's own is kept
    prepare_data_dir(data_dir)
    assert (data_dir / ".gitignore").read_text() == "jobs.sqlite3\n"


def test_a_default_data_dir_that_fails_names_the_folder_the_server_started_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MCP clients may start a server in / (or a folder not the user's): "chmod /" is not the fix, setting
    PERSONAS_PROJECT_ROOT is."""
    from mcp_server.data_dir import prepare_settings_data_dir

    for name in list(os.environ):
        if name.startswith("PERSONAS_"):
            monkeypatch.delenv(name, raising=False)
    (tmp_path / ".agent-os").write_text("a file where the folder goes")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataDirError) as caught:
        prepare_settings_data_dir(Settings())
    assert f"It is under {tmp_path}, the folder the server was started in" in str(caught.value)
    assert '"PERSONAS_PROJECT_ROOT": "${workspaceFolder}"' in str(caught.value)
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(tmp_path))  # chosen: the plain reason is enough
    with pytest.raises(DataDirError) as caught:
        prepare_settings_data_dir(Settings())
    assert "started in" not in str(caught.value)


def _probe_on_dev_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """The data dir's write probe meets a real ENOSPC (the kernel's /dev/full)."""
    from mcp_server import data_dir as module

    monkeypatch.setattr(module, "_open_probe", lambda folder: (os.open("/dev/full", os.O_WRONLY), folder / "x"))


def test_a_full_disk_is_named_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _probe_on_dev_full(monkeypatch)
    with pytest.raises(DataDirError) as caught:
        prepare_data_dir(data_dir)
    message = str(caught.value)
    assert str(data_dir) in message and "the disk is full" in message and "free space" in message


def test_storage_problem_wording_for_a_real_enospc() -> None:
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        with pytest.raises(OSError, match="No space left") as caught:
            os.write(fd, b"x")
    finally:
        os.close(fd)
    message = storage_problem(Path("/data/jobs.sqlite3"), caught.value)
    assert message.startswith("cannot write /data/jobs.sqlite3: the disk is full")
    assert "PERSONAS_DATA_DIR" in message


async def test_invoke_on_a_full_database_names_the_file_and_the_cause(jobs: JobHarness) -> None:
    # SQLite's own limit makes the next insert fail with a real SQLITE_FULL ("database or disk is full").
    pages = (await jobs.store.db.fetch("PRAGMA page_count"))[0]["page_count"]
    await jobs.store.db.fetch(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(JobStorageError) as caught:
        await jobs.service.submit("qa", "review app.py", context="x" * 100_000)
    message = str(caught.value)
    assert str(jobs.db_path) in message and "the disk is full" in message and "free space" in message


async def test_an_unwritable_redis_log_is_told_not_pointed_to(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "redis.log").mkdir(parents=True)  # the log path is taken by a folder
    with pytest.raises(EmbeddedRedisError) as caught:
        async with embedded_redis(data_dir):
            pass
    message = str(caught.value)
    assert str(data_dir / "redis.log") in message and "cannot write" in message
    assert "see " not in message


def test_cli_commands_name_an_unusable_data_dir_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("PERSONAS_") or name == "REDIS_URL":
            monkeypatch.delenv(name, raising=False)
    blocker = tmp_path / "data-is-a-file"
    blocker.write_text("x")
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(tmp_path))
    monkeypatch.setenv("PERSONAS_DATA_DIR", str(blocker))
    assert main(["jobs", "list"]) == 2
    err = capsys.readouterr().err
    assert str(blocker) in err and "a file is in the way" in err and "Traceback" not in err


def test_doctor_reports_a_full_disk_under_the_data_dir(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    settings.data_dir.mkdir(parents=True)
    _probe_on_dev_full(monkeypatch)
    check = check_data_dir(settings)
    assert not check.ok and "the disk is full" in check.detail and str(settings.data_dir) in check.detail


async def test_a_record_that_cannot_be_written_fails_clearly_and_leaves_no_redis(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "redis.json").mkdir(parents=True)  # the record's path is taken by a folder
    with pytest.raises(EmbeddedRedisError) as caught:
        async with embedded_redis(data_dir):
            pass
    assert "cannot start" in str(caught.value) and "redis.json" in str(caught.value)
    assert not (data_dir / "redis.sock").exists()  # the redis-server it had started was stopped


@pytest.mark.parametrize("name", ["redis.log", ".write-probe", "jobs.sqlite3", "index"])
def test_a_symlink_in_the_data_dir_is_refused_and_nothing_is_written_through_it(tmp_path: Path, name: str) -> None:
    """A pull request can commit `.agent-os/data/redis.log -> ~/.bashrc` (git add -f; a fresh CI checkout
    has no data dir .gitignore): the review in CI truncated the probe's target, appended the Redis log
    to the profile and made it 0600."""
    profile = tmp_path / "home" / ".bashrc"
    profile.parent.mkdir()
    profile.write_text("export PATH=/usr/bin\n")
    profile.chmod(0o644)
    data_dir = tmp_path / "repo" / ".agent-os" / "data"
    data_dir.mkdir(parents=True)
    (data_dir / name).symlink_to(profile)

    with pytest.raises(DataDirError) as caught:
        prepare_data_dir(data_dir)

    assert profile.read_text() == "export PATH=/usr/bin\n" and stat.S_IMODE(profile.stat().st_mode) == 0o644
    message = str(caught.value)
    assert f"{data_dir / name} -> {str(profile)!r}" in message and "PERSONAS_DATA_DIR" in message, message


def test_a_data_dir_holding_committed_files_is_refused(tmp_path: Path) -> None:
    """A pull request can commit `.agent-os/data/jobs.sqlite3` (git add -f) holding dismissals that drop
    the findings its code would get, and teach the persona to let it pass; the CI review opened it."""
    from tests.review.gitrepo import commit, git, make_repo

    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    data_dir = repo / ".agent-os" / "data"
    data_dir.mkdir(parents=True)
    (data_dir / "jobs.sqlite3").write_bytes(b"SQLite format 3\x00planted")
    git(repo, "add", "-f", ".agent-os/data/jobs.sqlite3")
    commit(repo, "planted dismissals")

    with pytest.raises(DataDirError) as caught:
        prepare_data_dir(data_dir)

    message = str(caught.value)
    assert "tracked by git (data/jobs.sqlite3)" in message and "git rm -r --cached" in message, message
    git(repo, "rm", "-q", "-r", "--cached", ".agent-os/data")
    prepare_data_dir(data_dir)  # untracked again: the folder is ours


def test_a_fresh_or_untracked_data_dir_in_a_repository_is_used(tmp_path: Path) -> None:
    from tests.review.gitrepo import make_repo

    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    prepare_data_dir(repo / ".agent-os" / "data")
    (repo / ".agent-os" / "data" / "jobs.sqlite3").write_bytes(b"")
    prepare_data_dir(repo / ".agent-os" / "data")


def test_a_committed_symlink_standing_for_the_data_dir_is_refused(tmp_path: Path) -> None:
    from tests.review.gitrepo import commit, git, make_repo

    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    elsewhere = tmp_path / "runner-home"
    elsewhere.mkdir(mode=0o755)
    elsewhere.chmod(0o755)
    (repo / ".agent-os").mkdir()
    (repo / ".agent-os" / "data").symlink_to(elsewhere)
    git(repo, "add", "-f", ".agent-os/data")
    commit(repo, "planted data dir")

    with pytest.raises(DataDirError) as caught:
        prepare_data_dir(repo / ".agent-os" / "data")
    assert "tracked by git (data)" in str(caught.value)
    assert list(elsewhere.iterdir()) == []  # nothing was created or chmodded there
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755


@pytest.mark.parametrize("name", [".gitignore", ".gitkeep"])
def test_a_committed_gitignore_or_gitkeep_in_the_data_dir_is_harmless(tmp_path: Path, name: str) -> None:
    """Teams commit `.agent-os/data/.gitignore` (or `.gitkeep`) to keep the folder out of git; the server
    never opens it, so a fresh checkout of such a project must start, not be refused as 'tracked'."""
    from tests.review.gitrepo import commit, git, make_repo

    repo = make_repo(tmp_path / "repo", {"app.py": "x = 1\n"})
    data_dir = repo / ".agent-os" / "data"
    data_dir.mkdir(parents=True)
    (data_dir / name).write_text("*\n!.gitignore\n")
    git(repo, "add", "-f", f".agent-os/data/{name}")
    commit(repo, "keep the data dir ignored")

    prepare_data_dir(data_dir)
    assert (data_dir / name).read_text() == "*\n!.gitignore\n"  # the team's own file is kept

    (data_dir / "jobs.sqlite3").write_bytes(b"SQLite format 3\x00planted")  # anything else is still refused
    git(repo, "add", "-f", ".agent-os/data/jobs.sqlite3")
    with pytest.raises(DataDirError, match=r"tracked by git \(data/jobs.sqlite3\)"):
        prepare_data_dir(data_dir)
