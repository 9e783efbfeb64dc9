"""A bounded walk of one standards folder: a folder pointed at a huge tree (``PERSONAS_STANDARDS_DIR=.``
over ``node_modules``, a shared checkout with 100k files) is cut, not walked for minutes (blocking I/O)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Markdown files taken from one standards folder at most (``PERSONAS_STANDARDS_MAX_FILES``).
DEFAULT_MAX_FILES = 20_000
#: Folders visited in one standards folder at most, whatever they hold.
MAX_WALK_DIRS = 20_000
#: Folders never walked for standards (hidden ones, ``.git``, ``.venv``, …, are skipped too).
HEAVY_DIRS = frozenset({"node_modules", "bower_components", "__pycache__", "site-packages", "venv"})


def skipped_dir(name: str) -> bool:
    """A folder never walked (nor its events watched) for standards: hidden, or one of :data:`HEAVY_DIRS`."""
    return name.startswith(".") or name in HEAVY_DIRS


@dataclass
class WalkCuts:
    """Folders whose walk was cut, with why and how to fix it (one line each)."""

    messages: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        if message not in self.messages:
            self.messages.append(message)


def walk_markdown(
    top: Path, root: Path, keep: Callable[[str], bool], max_files: int, cuts: WalkCuts | None = None
) -> list[str]:
    """Root-relative posix paths of the files under ``top`` whose name ``keep`` takes (sorted walk, hidden and
    :data:`HEAVY_DIRS` folders skipped, symlinked folders not followed), at most ``max_files`` files
    and :data:`MAX_WALK_DIRS` folders; a cut is described in ``cuts``."""
    found: list[str] = []
    for visited, (dirpath, dirnames, filenames) in enumerate(os.walk(top), start=1):
        if visited > MAX_WALK_DIRS:
            _cut(cuts, root, f"more than {MAX_WALK_DIRS} folders")
            break
        dirnames[:] = sorted(d for d in dirnames if not skipped_dir(d))
        for name in sorted(filenames):
            if not keep(name):
                continue
            if len(found) >= max_files:
                _cut(cuts, root, f"more than {max_files} Markdown files")
                return found
            found.append((Path(dirpath) / name).relative_to(root).as_posix())
    return found


def _cut(cuts: WalkCuts | None, root: Path, why: str) -> None:
    if cuts is not None:
        cuts.add(
            f"{root}: standards folder walk stopped after {why}; the rest is not indexed. Point "
            "PERSONAS_STANDARDS_DIR (or PERSONAS_SHARED_STANDARDS_DIRS) at the standards folder itself, "
            "not a project or checkout root, or raise PERSONAS_STANDARDS_MAX_FILES."
        )
