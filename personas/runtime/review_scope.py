"""The files under review in a run: what standards searches are scoped to (``paths``) by default.

The changed files of a diff review, then the project files named one per line in the context,
so a review of ``api/`` is guided by the rules for ``api/`` without the model having to ask.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from personas.runtime.models import RunRequest

#: At most this many paths are passed to a search (the index accepts up to 200).
MAX_REVIEW_PATHS = 100
MAX_LINE_CHARS = 1_024


def files_under_review(request: RunRequest, project_root: Path) -> list[str]:
    """Project-relative POSIX paths under review, in order, without duplicates (blocking: stats files)."""
    found: list[str] = []
    if request.changes is not None:
        for changed in request.changes.files:
            found.append(changed.path)
            if changed.old_path:
                found.append(changed.old_path)
    root = project_root.resolve()
    for line in (request.context or "").splitlines():
        if request.supplied_files is not None:
            name = line.strip().removeprefix("./")
            rel = name if name in request.supplied_files else None
        else:
            rel = _project_file(line.strip(), root)
        if rel is not None:
            found.append(rel)
    return list(dict.fromkeys(p for p in found if p))[:MAX_REVIEW_PATHS]


def _project_file(candidate: str, root: Path) -> str | None:
    """``candidate`` as a project-relative path if it names an existing file inside the project."""
    if not candidate or len(candidate) > MAX_LINE_CHARS or " " in candidate or "\x00" in candidate:
        return None
    path = Path(candidate)
    absolute = path if path.is_absolute() else root / path
    try:
        normal = Path(os.path.normpath(absolute))
        if root not in normal.parents or not normal.is_file():
            return None
    except (OSError, ValueError):
        return None
    rel = normal.relative_to(root).as_posix()
    return rel if ".." not in PurePosixPath(rel).parts else None
