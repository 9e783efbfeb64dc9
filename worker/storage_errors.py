"""Storage failures told as path, cause and fix (disk full, read-only, permission), never a traceback.

One wording for both kinds of failure the job system meets: an ``OSError`` from a file operation
(errno) and a ``sqlite3.Error`` from the database (its error name, e.g. ``SQLITE_FULL``).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

_DISK_FULL = ("the disk is full (no space left on device)", "free space on that disk")
_READ_ONLY = ("the file system is read-only", "remount it read-write")
_DENIED = ("permission denied", "make it writable by this user (chown / chmod u+rw)")

_BY_ERRNO: dict[int, tuple[str, str]] = {
    errno.ENOSPC: _DISK_FULL,
    errno.EDQUOT: ("the disk quota is used up", "free space or raise the quota"),
    errno.EROFS: _READ_ONLY,
    errno.EACCES: _DENIED,
    errno.EPERM: _DENIED,
    errno.ENOTDIR: ("a file is in the way where a folder is needed", "remove or rename that file"),
    errno.EEXIST: ("a file is in the way where a folder is needed", "remove or rename that file"),
    errno.EIO: ("the disk reported an I/O error", "check the disk (dmesg)"),
}

_BY_SQLITE: dict[str, tuple[str, str]] = {
    "SQLITE_FULL": _DISK_FULL,
    "SQLITE_READONLY": _READ_ONLY,
    "SQLITE_CANTOPEN": ("the file cannot be opened (missing folder, permission or read-only)", "check the folder"),
    "SQLITE_PERM": _DENIED,
    "SQLITE_AUTH": _DENIED,
    "SQLITE_IOERR": ("the disk reported an I/O error", "check the disk (dmesg) and free space"),
}


def storage_problem(path: Path, exc: OSError | sqlite3.Error) -> str:
    """'cannot write <path>: <cause>. Fix: <what to do>.' for a failed write (``path``: the folder the
    write was for, e.g. the data dir; the failing file is taken from the error when it names one)."""
    if isinstance(exc, OSError):
        cause, fix = _BY_ERRNO.get(exc.errno or 0, (exc.strerror or str(exc), "check that path"))
        folder = path
        if isinstance(exc.filename, str):
            path = Path(exc.filename)
        if exc.errno in (errno.EACCES, errno.EPERM) and (owner := _foreign_owner(path, folder)) is not None:
            me = _user_name(os.getuid())
            cause = f"permission denied: it belongs to {owner}, not {me} (a run as {owner}, e.g. with sudo, made it)"
            fix = f"give it back to {me}: sudo chown -R {me} {folder}"
    else:
        name = str(getattr(exc, "sqlite_errorname", "") or "")
        known = [v for k, v in _BY_SQLITE.items() if name == k or name.startswith(k + "_")]
        cause, fix = known[0] if known else (str(exc), "check the disk and the file")
    return f"cannot write {path}: {cause}. Fix: {fix}, or point PERSONAS_DATA_DIR at another folder."


def _user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _foreign_owner(path: Path, folder: Path) -> str | None:
    """Who owns ``path`` (or, when it cannot be looked at, its nearest parent that can, up to ``folder``)
    if that is not this process's user: the likely reason behind a permission error in one's own data
    dir. None above ``folder``: a data dir that cannot be made in /var/lib was made by nobody."""
    for candidate in (path, *path.parents):
        if candidate != folder and folder not in candidate.parents:
            return None
        try:
            uid = candidate.stat().st_uid
        except OSError:
            continue
        return None if uid == os.getuid() else _user_name(uid)
    return None
