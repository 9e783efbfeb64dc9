"""A cache folder only this user can write: what another local user planted there is never loaded.

The embedding cache (vectors and chunk texts of the starters) and the ONNX graph cache live under the
user's cache folder, which ``XDG_CACHE_HOME``, ``PERSONAS_EMBEDDING_CACHE_DIR`` or ``PERSONAS_ONNX_CACHE``
may move to a shared place (``/tmp/cache``). A folder there that someone else made first (or left
writable to others) would let them choose the text of the starter standards the personas read, or
the graph that embeds every query. So a cache folder is used only when it is this user's and writable
by no one else; a folder of ours with a looser mode is tightened to 0700.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


class ForeignCacheError(PermissionError):
    """A cache folder is someone else's or writable by others; the message names it, the cause and the fix."""


def private_folder(folder: Path, what: str, setting: str) -> Path:
    """``folder`` (created 0700 with its parents when missing) once it is this user's and writable by no
    one else; raises :class:`ForeignCacheError` otherwise (naming ``setting``, the variable that moves
    it), or OSError when it cannot be made."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    uid = os.getuid() if hasattr(os, "getuid") else None
    if uid is not None and info.st_uid != uid:
        raise ForeignCacheError(
            f"{what} folder {folder} belongs to another user (uid {info.st_uid}), who could plant what this "
            f"process loads from it; it is not used. Remove it, or set {setting} to a folder of yours."
        )
    if stat.S_IMODE(info.st_mode) & 0o022:
        with contextlib.suppress(OSError):
            folder.chmod(0o700)
        if stat.S_IMODE(folder.stat().st_mode) & 0o022:
            raise ForeignCacheError(
                f"{what} folder {folder} is writable by other users and its mode cannot be changed; it is not "
                f"used. Make it 0700 (chmod 700), or set {setting} to a folder of yours."
            )
    return folder
