"""A data dir that another user's run made (`sudo personas search …`, a root container): the message
says whose it is and the chown that fixes it; `personas doctor` reports a path it cannot look at on
each line it affects instead of dying with a traceback."""

from __future__ import annotations

import errno
import io
import os
import pwd
from collections.abc import Callable
from pathlib import Path

import pytest

from mcp_server.doctor import run_doctor
from mcp_server.settings import Settings
from worker.storage_errors import storage_problem

OTHER_UID = 65534  # 'nobody' on Debian and most systems


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
def test_a_permission_error_on_another_users_file_names_the_owner_and_the_chown(tmp_path: Path) -> None:
    data = tmp_path / "project" / ".agent-os" / "data"
    data.mkdir(parents=True)
    database = data / "jobs.sqlite3"
    database.write_bytes(b"")
    os.chown(database, OTHER_UID, OTHER_UID)
    try:
        owner = pwd.getpwuid(OTHER_UID).pw_name
    except KeyError:
        owner = f"uid {OTHER_UID}"
    me = pwd.getpwuid(os.getuid()).pw_name
    denied = PermissionError(errno.EACCES, "Permission denied", str(database))
    message = storage_problem(data, denied)
    assert message == (
        f"cannot write {database}: permission denied: it belongs to {owner}, not {me} (a run as {owner}, e.g. "
        f"with sudo, made it). Fix: give it back to {me}: sudo chown -R {me} {data}, or point PERSONAS_DATA_DIR "
        "at another folder."
    )
    os.chown(database, os.getuid(), os.getgid())  # one's own file: the plain wording, no chown to oneself
    assert "belongs to" not in storage_problem(data, denied)
    os.chown(tmp_path, OTHER_UID, OTHER_UID)  # a data dir that cannot be made where another user owns the parent:
    missing = tmp_path / "data"  # nobody made it, and there is nothing to chown
    assert "belongs to" not in storage_problem(
        missing, PermissionError(errno.EACCES, "Permission denied", str(missing))
    )


async def test_doctor_reports_a_data_dir_it_cannot_look_at_line_by_line(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    unusable = tmp_path / ("x" * 300) / "data"  # a name too long: every look at it fails (ENAMETOOLONG)
    out = io.StringIO()
    code = await run_doctor(make_settings(data_dir=unusable), out)
    report = out.getvalue()
    assert code == 1
    assert "[FAIL] data dir:" in report
    assert "[FAIL] database: cannot read" in report
    assert "[FAIL] standards index: cannot read" in report
    assert report.rstrip().endswith("Some checks failed: run the fixes above.")
