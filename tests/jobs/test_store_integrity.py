"""A damaged or truncated database is refused at open with the file, the cause and the fix; the
store never starts empty over a file that held data; the server stays up and says why."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from standards.curation.store import ProposalStore
from standards.sqlite import DatabaseUnusableError, backup_path
from worker.models import JobState
from worker.store import JobStore

PERSONAS_BIN = str(Path(sys.executable).with_name("personas"))

Opener = Callable[[Path], AbstractAsyncContextManager[Any]]
OPENERS: dict[str, Opener] = {"jobs": JobStore.open, "proposals": ProposalStore.open}


async def _make_history(path: Path) -> str:
    async with JobStore.open(path) as store:
        job = JobState(persona="qa", task="keep me")
        await store.insert(job)
        for n in range(200):  # enough pages that a cut lands inside the data
            await store.insert(JobState(persona="qa", task=f"filler {n} " + "x" * 500))
    return job.id


@pytest.fixture(params=sorted(OPENERS))
def opener(request: pytest.FixtureRequest) -> Opener:
    return OPENERS[str(request.param)]


async def test_garbage_file_is_refused_with_name_and_fix_and_left_untouched(tmp_path: Path, opener: Opener) -> None:
    path = tmp_path / "store.sqlite3"
    path.write_bytes(b"this is not a database\n" * 100)
    before = path.read_bytes()
    with pytest.raises(DatabaseUnusableError) as caught:
        async with opener(path):
            pass
    message = str(caught.value)
    assert str(path) in message and "not a SQLite database" in message
    assert "move the file aside" in message and "restart" in message
    assert path.read_bytes() == before


async def test_truncated_database_is_refused_and_points_at_the_backup(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    await _make_history(path)
    assert backup_path(path).is_file(), "a healthy open leaves a backup"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DatabaseUnusableError) as caught:
        async with JobStore.open(path):
            pass
    message = str(caught.value)
    assert str(path) in message and "damaged" in message
    assert str(backup_path(path)) in message


async def test_damaged_pages_behind_an_intact_header_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    await _make_history(path)
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(page * 2, min(len(data), page * 8)):  # scribble over b-tree pages, keep the header
        data[offset] = 0xA5
    path.write_bytes(bytes(data))
    with pytest.raises(DatabaseUnusableError, match="damaged"):
        async with JobStore.open(path):
            pass


async def test_truncated_to_zero_after_holding_data_never_starts_empty(tmp_path: Path, opener: Opener) -> None:
    path = tmp_path / "store.sqlite3"
    async with opener(path):
        pass
    path.write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(DatabaseUnusableError, match=r"empty .*truncated"):
        async with opener(path):
            pass
    assert path.stat().st_size == 0


async def test_zero_length_file_never_initialised_is_initialised(tmp_path: Path, opener: Opener) -> None:
    path = tmp_path / "store.sqlite3"
    path.touch()
    async with opener(path):
        pass
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"


async def test_moved_aside_database_starts_a_new_history_and_backup_restores_the_old(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    job_id = await _make_history(path)
    os.utime(backup_path(path), (1.0, 1.0))  # a day-old backup is refreshed at the next open
    async with JobStore.open(path):
        pass
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    async with JobStore.open(path) as store:
        assert await store.count() == 0
    restored = tmp_path / "restored.sqlite3"
    restored.write_bytes(backup_path(path).read_bytes())
    async with JobStore.open(restored) as store:
        assert await store.get(job_id) is not None
    assert oct(backup_path(path).stat().st_mode & 0o777) == "0o600"


@pytest.fixture
def corrupt_project(project: Path) -> Path:
    data_dir = project / ".agent-os" / "data"
    data_dir.mkdir(parents=True)
    (data_dir / "jobs.sqlite3").write_bytes(b"\x00garbage" * 512)
    return data_dir / "jobs.sqlite3"


async def test_server_with_a_damaged_database_stays_up_and_tools_say_why(corrupt_project: Path, project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_")) and k != "REDIS_URL"}
    env.update(PERSONAS_PROJECT_ROOT=str(project), PERSONAS_EMBEDDER="hashing")
    params = StdioServerParameters(command=PERSONAS_BIN, args=["serve", "--no-watch"], env=env)
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        job_tool = next(n for n in ("check_persona_job", "wait_for_persona_job") if n in names)
        for tool, args in ((job_tool, {"job_id": "x"}), ("invoke_qa", {"task": "review"})):
            reply = await client.call_tool(tool, args)
            assert reply.is_error
            text = " ".join(getattr(c, "text", "") for c in reply.content)
            assert str(corrupt_project) in text and "move the file aside" in text, text
