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
import tempfile
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
        existed = data_dir.is_dir()
        data_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        if not data_dir.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(data_dir))
        _refuse_links(data_dir)
        if existed:
            _refuse_committed(data_dir)
        if stat.S_IMODE(data_dir.stat().st_mode) != DIR_MODE:
            data_dir.chmod(DIR_MODE)
        _probe_write(data_dir)
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


def _refuse_links(data_dir: Path) -> None:
    """No symlink directly in the data dir: every file there is opened for writing (databases, the
    Redis log, the index), and a checked-out pull request can commit ``.agent-os/data/redis.log ->
    ~/.bashrc`` with ``git add -f`` (the folder's .gitignore is not in a fresh CI checkout)."""
    with os.scandir(data_dir) as entries:
        links = sorted(entry.name for entry in entries if entry.is_symlink())
    if links:
        first = data_dir / links[0]
        raise DataDirError(
            f"The data dir {data_dir} holds {len(links)} symlink(s) ({', '.join(links[:5])}; {first} -> "
            f"{os.readlink(first)!r}): agent-personas writes its databases, log and index there and never writes "
            "through a link (one from a checked-out change could point at any file of yours). Remove them (the "
            "data dir is agent-personas' own, never committed), or set PERSONAS_DATA_DIR to a folder outside the "
            "checkout."
        )


#: Files a team commits to keep the data dir ignored or present; never opened by agent-personas (a
#: symlink among them is refused by :func:`_refuse_links`).
KEPT_TRACKED = (".gitignore", ".gitkeep")


def _refuse_committed(data_dir: Path) -> None:
    """No file in the data dir may come from the repository: a pull request can commit
    ``.agent-os/data/jobs.sqlite3`` with dismissals that silence the findings its code would get (and
    teach the persona to let it pass), or a Redis record; a CI review would then use them. A committed
    ``.gitignore`` or ``.gitkeep`` directly in it is harmless and kept."""
    import shutil
    import subprocess

    from personas.changes.git import GIT_TIMEOUT_SECONDS, SAFE_CONFIG, git_env

    git = shutil.which("git")
    if git is None:
        return
    try:  # one process (ls-files runs no filter; fsmonitor is off): a few ms of each start
        done = subprocess.run(
            # From the parent: a tracked symlink standing for the data dir itself is listed too.
            [git, *SAFE_CONFIG, "-C", str(data_dir.parent), "ls-files", "-z", "--", data_dir.name],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=git_env(),
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):  # it hung: nothing can be told
        return
    harmless = {f"{data_dir.name}/{name}" for name in KEPT_TRACKED}
    tracked = sorted({name for name in done.stdout.decode("utf-8", "replace").split("\0") if name} - harmless)
    if done.returncode != 0 or not tracked:  # not in a work tree (or not this user's: git refuses), or clean
        return
    raise DataDirError(
        f"The data dir {data_dir} holds {len(tracked)} file(s) tracked by git ({', '.join(tracked[:5])}): job "
        "history, dismissed findings and the Redis record are this machine's, and ones from a checked-out change "
        "could silence findings or redirect the server. Remove them from the repository (git rm -r --cached "
        f"{data_dir}) and delete them, or set PERSONAS_DATA_DIR to a folder outside the checkout."
    )


def _open_probe(data_dir: Path) -> tuple[int, Path]:
    """A new file to prove the data dir writable (never one that is there already, nor a link)."""
    fd, name = tempfile.mkstemp(prefix=_PROBE, dir=data_dir)
    return fd, Path(name)


def _probe_write(data_dir: Path) -> None:
    fd, path = _open_probe(data_dir)
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
