"""Project files as they are at a change's head: a commit's blobs, or the index for staged changes.

A review of a branch reads the branch, never unrelated edits in the working tree. Same rules as
:class:`~personas.runtime.sandbox.ProjectSandbox`: relative paths only, no version-control internals,
no secret files, text only, size-capped, symlinks refused. Methods block (git subprocesses).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from personas.changes.git import ChangesError, run_git_sync
from personas.changes.models import INDEX_HEAD
from personas.runtime.sandbox import (
    DENIED_DIRS,
    SKIPPED_DIRS,
    FileText,
    NotInProjectError,
    SandboxError,
    check_relative,
    compile_pattern,
    file_text,
    is_secret_name,
)

SYMLINK_MODE = "120000"


class GitSnapshot:
    """Read-only view of the files at ``head`` (a commit id, or ``':'`` for the index)."""

    def __init__(self, root: Path, head: str, *, max_file_bytes: int, denied: Sequence[Path] = ()) -> None:
        self.root = root.resolve()
        self.head = head
        self.max_file_bytes = max_file_bytes
        self._denied = [
            p.resolve().relative_to(self.root).as_posix() for p in denied if p.resolve().is_relative_to(self.root)
        ]
        self._where = "the index (staged changes)" if head == INDEX_HEAD else f"commit {head[:12]}"

    def _entry(self, rel: str) -> tuple[str, str]:
        """(mode, object id) of ``rel`` at the head, or NotInProjectError."""
        if self.head == INDEX_HEAD:
            result = run_git_sync(self.root, "ls-files", "-s", "-z", "--", rel)
            line = result.out.decode("utf-8", "replace").split("\0", 1)[0]
            meta_part, _, listed = line.partition("\t")
            fields = meta_part.split() if listed == rel else []  # exactly this file, nothing it might match
        else:
            result = run_git_sync(self.root, "ls-tree", "-z", "--end-of-options", self.head, "--", rel)
            line = result.out.decode("utf-8", "replace").split("\0", 1)[0]
            meta_part, _, listed = line.partition("\t")
            meta = meta_part.split() if listed == rel else []
            fields = [meta[0], meta[2]] if len(meta) == 3 and meta[1] in ("blob", "tree") else []
            if len(meta) == 3 and meta[1] == "tree":
                raise SandboxError(f"{rel!r} is a directory at {self._where}; call list_files('{rel}/**/*').")
        if result.code != 0 or len(fields) < 2:
            raise NotInProjectError(
                f"No such file at {self._where}: {rel!r}. Use list_files with a glob to find the right path."
            )
        return fields[0], fields[1]

    def read_text(self, raw: str) -> FileText:
        rel = check_relative(raw, "path").replace("\\", "/").strip("/")
        rel = "/".join(part for part in rel.split("/") if part not in ("", "."))
        folded = rel.casefold()
        if DENIED_DIRS.intersection(folded.split("/")) or any(
            folded == d.casefold() or folded.startswith(d.casefold() + "/") for d in self._denied
        ):
            raise SandboxError(f"{rel!r} is internal tool data (version control or agent-personas) and not readable.")
        if is_secret_name(rel):
            raise SandboxError(
                f"{rel!r} conventionally holds secrets, which are never sent to the model. Review how the code "
                "loads it instead, and say in the review that you did not read it."
            )
        mode, oid = self._entry(rel)
        if mode == SYMLINK_MODE:
            raise SandboxError(f"{rel!r} is a symlink at {self._where}; read the file it points to instead.")
        size_result = run_git_sync(self.root, "cat-file", "-s", oid)
        size = int(size_result.out.strip() or 0)
        if size > self.max_file_bytes:
            raise SandboxError(
                f"{rel!r} is {size:,} bytes, over the {self.max_file_bytes:,}-byte cap of read_file; it is not "
                "readable. Read the smaller files it relates to, or say in the review that it was too large to read."
            )
        data = run_git_sync(self.root, "cat-file", "blob", oid, max_bytes=self.max_file_bytes + 1).out
        return file_text(rel, data)

    def list_files(self, pattern: str, *, limit: int) -> tuple[list[str], int]:
        glob = compile_pattern(pattern)
        matches = sorted(rel for rel in self._names() if glob.match(rel))
        return matches[:limit], len(matches)

    def _names(self) -> Iterable[str]:
        if self.head == INDEX_HEAD:
            result = run_git_sync(self.root, "ls-files", "-z", "--cached")
        else:
            result = run_git_sync(self.root, "ls-tree", "-r", "-z", "--name-only", "--end-of-options", self.head)
        if result.code != 0:
            raise ChangesError(f"git could not list the files at {self._where}: {result.err}")
        for name in result.out.decode("utf-8", "replace").split("\0"):
            if name and not SKIPPED_DIRS.intersection(name.split("/")[:-1]):
                yield name
