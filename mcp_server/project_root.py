"""Which project a command belongs to when PERSONAS_PROJECT_ROOT is not set."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder from ``start`` (default: the working directory) up that holds ``.agent-os``
    or ``.git``, else ``start`` itself. Like git, a command run from ``src/api`` of a project works on
    that project (its standards, personas, job history), not on a new empty one made in ``src/api``.
    Neither the home folder nor ``/`` is taken from below: a stray ``~/.agent-os`` does not make every
    folder under home one project (run from there, they are still the default)."""
    here = (start if start is not None else Path.cwd()).resolve()
    stop = {Path.home().resolve(), Path(here.anchor)}
    for folder in (here, *here.parents):
        if folder in stop or (folder != here and _others_can_write(folder)):
            break  # /tmp and the like: another user's /tmp/.agent-os would choose the personas and standards
        if is_project(folder):
            return folder
    return here


def _others_can_write(folder: Path) -> bool:
    """A shared folder (``/tmp``: sticky, or another user's open to all) where anyone can plant a project.
    A folder of this user's that only looks writable by all (WSL's ``/mnt/c``, a FAT or SMB mount: every
    folder there is 0777 and this user's) is walked through: a marker there is still checked to be ours."""
    try:
        info = folder.stat()
    except OSError:
        return True
    if not info.st_mode & stat.S_IWOTH:
        return False
    return bool(info.st_mode & stat.S_ISVTX) or info.st_uid != os.getuid()


def _ours(marker: Path) -> bool:
    """A marker made by this user (or root): not one another user planted in a shared folder."""
    try:
        return marker.lstat().st_uid in (os.getuid(), 0)
    except OSError:
        return False


def is_project(folder: Path) -> bool:
    """``folder`` holds this tool's ``.agent-os`` folder or a git work tree's ``.git``, made by this user
    (or root): not one another user planted in a shared folder."""
    agent_os, git = folder / ".agent-os", folder / ".git"
    return (_ours(agent_os) and agent_os.is_dir()) or _ours(git)
