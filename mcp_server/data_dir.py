"""The data dir (job history, proposals, index, embedded Redis): prepared in one place, private.

Job history holds code and reviews, so the folder is 0700, the files directly in it (databases,
their journals, the Redis log and record) are 0600, and git ignores the folder (its own
``.gitignore``). :func:`prepare_data_dir` also proves the folder is writable before anything opens
it, and every storage failure is told as path, cause and fix (:func:`storage_problem`), not as a
traceback.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from worker.storage_errors import storage_problem

if TYPE_CHECKING:
    from mcp_server.settings import Settings

__all__ = ["DataDirError", "prepare_data_dir", "prepare_settings_data_dir", "secure_files", "storage_problem"]

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
_PROBE = ".write-probe"
DEFAULT_DATA_DIR = Path(".agent-os/data")


class DataDirError(RuntimeError):
    """The data dir cannot be used; the message says which path, why, and what to do."""


def prepare_data_dir(data_dir: Path) -> None:
    """Create the data dir 0700 (tighten it if it exists), prove it is writable, tighten its files."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        if not data_dir.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(data_dir))
        if stat.S_IMODE(data_dir.stat().st_mode) != DIR_MODE:
            data_dir.chmod(DIR_MODE)
        _probe_write(data_dir / _PROBE)
        _ignore_in_git(data_dir)
    except OSError as exc:
        raise DataDirError(f"The data dir {data_dir} is unusable: " + storage_problem(data_dir, exc)) from exc
    secure_files(data_dir)


GITIGNORE = "# agent-personas: job history (it holds code), index and Redis state; never commit it\n*\n"


def prepare_settings_data_dir(settings: Settings) -> None:
    """:func:`prepare_data_dir` for a process's settings. When the data dir is the default one under the
    folder the process was started in (neither PERSONAS_PROJECT_ROOT nor PERSONAS_DATA_DIR set), a
    failure says so: an MCP client that starts servers in ``/`` or another folder not theirs is the
    likely cause, and "chmod /" is not the fix."""
    try:
        prepare_data_dir(settings.data_dir)
    except DataDirError as exc:
        from mcp_server.project_root import is_project

        if (
            settings.project_root_given
            or settings.data_dir != settings.project_root / DEFAULT_DATA_DIR
            or is_project(settings.project_root)  # a project (.agent-os or .git): the folder is right
        ):
            raise
        raise DataDirError(
            f"{exc} It is under {settings.project_root}, the folder the server was started in, as "
            "PERSONAS_PROJECT_ROOT is unset: start the server in your project, or set PERSONAS_PROJECT_ROOT to "
            'the project folder (in an MCP client\'s config, e.g. "PERSONAS_PROJECT_ROOT": "${workspaceFolder}").'
        ) from exc


def _ignore_in_git(data_dir: Path) -> None:
    """A ``.gitignore`` of ``*`` in the data dir (once; the user's own is kept): it sits in the project,
    and a ``git add -A`` would otherwise commit the job database, reviews and all, and the Redis record."""
    try:
        fd = os.open(data_dir / ".gitignore", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        return
    try:
        os.write(fd, GITIGNORE.encode())
    finally:
        os.close(fd)


def _probe_write(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.write(fd, b"\0" * 4096)
        os.fsync(fd)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)


def secure_files(data_dir: Path) -> None:
    """Every regular file directly in the data dir becomes 0600 (SQLite gives its -wal/-shm files
    the database's mode, so tightening the databases covers their journals too)."""
    try:
        entries = list(os.scandir(data_dir))
    except OSError as exc:
        log.warning("cannot list %s to tighten file modes: %s", data_dir, exc)
        return
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and stat.S_IMODE(entry.stat().st_mode) != FILE_MODE:
                os.chmod(entry.path, FILE_MODE)
        except OSError as exc:
            log.warning("cannot make %s private (0600): %s", entry.path, exc)
