"""Code a remote client sent with its request: files (path → content) and a raw unified diff.

A server reached over HTTP cannot see the developer's checkout, so the client sends the code. The
file tools then read :class:`SuppliedSnapshot` instead of the disk, with the same rules as
:class:`~personas.runtime.sandbox.ProjectSandbox`: project-relative POSIX paths only, no
version-control internals, no secret files, text only, size-capped. :func:`check_supplied` validates
a request's files and diff before anything is stored; :func:`supplied_changes` turns the diff into
the same :class:`~personas.changes.models.ChangeSet` a git-resolved change is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from personas.changes.diff import cap, changed_ranges, split_lines, withheld_section
from personas.changes.models import ChangedFile, ChangeSet, FileStatus
from personas.runtime.private_keys import PRIVATE_KEY_WITHHELD, holds_private_key
from personas.runtime.sandbox import (
    DENIED_DIRS,
    SKIPPED_DIRS,
    FileText,
    NotInProjectError,
    SandboxError,
    compile_pattern,
    file_text,
    is_secret_name,
)

SUPPLIED_KIND: Final = "supplied"
MAX_PATH_CHARS = 1_000
#: C0, DEL, C1, zero-width and direction marks, line/paragraph separators, bidi embeddings, overrides
#: and isolates: a path with them can show as another name ('src/\u202eyp.nigol' reads 'src/login.py').
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


class SuppliedCodeError(ValueError):
    """The supplied files or diff are refused; the message names the path or size, the cause and the fix."""


@dataclass(frozen=True)
class SuppliedLimits:
    """Bounds of what one request may carry."""

    max_files: int = 500
    max_file_bytes: int = 200_000
    max_total_bytes: int = 5_000_000
    max_diff_bytes: int = 2_000_000
    max_diff_files: int = 5_000


def check_path(raw: object) -> str:
    """``raw`` as a project-relative POSIX path, or :class:`SuppliedCodeError` saying why not."""
    if not isinstance(raw, str) or not raw:
        raise SuppliedCodeError(f"files: the path {raw!r} is empty; use paths relative to the project root.")
    shown = repr(raw[:200])
    if len(raw) > MAX_PATH_CHARS:
        raise SuppliedCodeError(f"files: the path {shown}… is over {MAX_PATH_CHARS} characters.")
    if CONTROL.search(raw):
        raise SuppliedCodeError(
            f"files: the path {shown} contains control characters (or invisible or bidi formatting "
            "characters, which can make it show as another name); send plain paths."
        )
    if "\\" in raw:
        raise SuppliedCodeError(f"files: the path {shown} contains '\\'; send POSIX paths ('src/app.py').")
    if raw.startswith(("/", "~")) or WINDOWS_DRIVE.match(raw):
        raise SuppliedCodeError(
            f"files: the path {shown} is absolute; send paths relative to the project root, e.g. 'src/app.py'."
        )
    parts = raw.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise SuppliedCodeError(
            f"files: the path {shown} has an empty, '.' or '..' part; send normalised paths relative to the "
            "project root, e.g. 'src/app.py'."
        )
    if DENIED_DIRS.intersection(part.casefold() for part in parts):
        raise SuppliedCodeError(f"files: {shown} is version-control data; send only the project's own files.")
    return raw


def check_supplied(
    files: Mapping[str, str] | None, diff: str | None, limits: SuppliedLimits
) -> tuple[dict[str, str], str | None]:
    """The files and diff validated (paths, counts, sizes, text only, no secret files)."""
    checked: dict[str, str] = {}
    total = 0
    if files is not None and len(files) > limits.max_files:
        raise SuppliedCodeError(
            f"files: {len(files)} files sent; the limit is {limits.max_files}. Send the changed files and the "
            "ones they depend on, or split the review."
        )
    for raw, content in (files or {}).items():
        path = check_path(raw)
        if is_secret_name(path):
            raise SuppliedCodeError(
                f"files: {path!r} conventionally holds secrets, which are never sent to the model; leave it out "
                "of files."
            )
        if not isinstance(content, str):
            raise SuppliedCodeError(f"files: the content of {path!r} must be a string of UTF-8 text.")
        if "\x00" in content:
            raise SuppliedCodeError(f"files: {path!r} is binary (it contains NUL); send only text files.")
        try:
            size = len(content.encode("utf-8"))
        except UnicodeEncodeError:
            raise SuppliedCodeError(f"files: {path!r} is not valid UTF-8 text (lone surrogates).") from None
        if size > limits.max_file_bytes:
            raise SuppliedCodeError(
                f"files: {path!r} is {size:,} bytes; the cap per file is {limits.max_file_bytes:,} (what read_file "
                "reads). Leave it out and say so in the task."
            )
        total += size
        if total > limits.max_total_bytes:
            raise SuppliedCodeError(
                f"files: more than {limits.max_total_bytes:,} bytes in total (reached at {path!r}); send fewer "
                "files (the changed ones and what they import) or split the review."
            )
        checked[path] = content
    if diff is not None:
        size = len(diff.encode("utf-8", "surrogatepass"))
        if size > limits.max_diff_bytes:
            raise SuppliedCodeError(
                f"diff: {size:,} bytes; the cap is {limits.max_diff_bytes:,}. Send a smaller change, or the diff of "
                "fewer files."
            )
        if "\x00" in diff:
            raise SuppliedCodeError("diff: contains NUL bytes; send the text of `git diff` (binary files as stubs).")
        if not diff.strip():
            diff = None
    return checked, diff


class SuppliedSnapshot:
    """Read-only view of the files a client sent (a project with only those files)."""

    def __init__(self, files: Mapping[str, str], *, max_file_bytes: int) -> None:
        self.files = dict(files)
        self.max_file_bytes = max_file_bytes

    def read_text(self, raw: str) -> FileText:
        try:
            rel = check_path(raw.strip().removeprefix("./"))
        except SuppliedCodeError as exc:
            raise SandboxError(str(exc).removeprefix("files: ")) from None
        if is_secret_name(rel):
            raise SandboxError(
                f"{rel!r} conventionally holds secrets, which are never sent to the model. Review how the code "
                "loads it instead, and say in the review that you did not read it."
            )
        text = self.files.get(rel)
        if text is None:
            if any(name.startswith(rel + "/") for name in self.files):
                raise SandboxError(f"{rel!r} is a directory; call list_files('{rel}/**/*').")
            raise NotInProjectError(
                f"No such file among the files the client sent: {rel!r}. Use list_files with a glob to find the "
                "right path; files the client did not send cannot be read."
            )
        data = text.encode("utf-8", "surrogatepass")
        if len(data) > self.max_file_bytes:
            raise SandboxError(
                f"{rel!r} is {len(data):,} bytes, over the {self.max_file_bytes:,}-byte cap of read_file; it is not "
                "readable. Read the smaller files it relates to, or say in the review that it was too large to read."
            )
        return file_text(rel, data)

    def list_files(self, pattern: str, *, limit: int) -> tuple[list[str], int]:
        glob = compile_pattern(pattern)
        names = (n for n in self.files if not SKIPPED_DIRS.intersection(n.split("/")[:-1]))
        matches = sorted(n for n in names if glob.match(n))
        return matches[:limit], len(matches)


# ---- the raw diff ------------------------------------------------------------------------------

GIT_HEADER = re.compile(r"^diff --git (?:\"?a/)?(.+?)\"? (?:\"?b/)?(.+?)\"?$")


def _strip_prefix(name: str) -> str | None:
    name = name.split("\t", 1)[0].strip().strip('"')
    if name == "/dev/null":
        return None
    return name[2:] if name.startswith(("a/", "b/")) else name


def _plain_sections(diff: str) -> list[str]:
    """A diff without ``diff --git`` headers (``diff -u``) cut at each ``--- `` / ``+++ `` pair."""
    lines = split_lines(diff)
    starts = [i for i in range(len(lines) - 1) if lines[i].startswith("--- ") and lines[i + 1].startswith("+++ ")]
    ends = [*starts[1:], len(lines)] if starts else []
    return ["".join(lines[a:b]) for a, b in zip(starts, ends, strict=True)]


def _sections(diff: str) -> list[str]:
    """One section per file, each starting with ``diff --git`` (synthesised for a plain unified diff)."""
    sections: list[str] = []
    current: list[str] = []
    for line in split_lines(diff):
        if line.startswith("diff --git ") and current:
            sections.append("".join(current))
            current = []
        current.append(line)
    if current:
        sections.append("".join(current))
    git = [s for s in sections if s.startswith("diff --git ")]
    if git:
        return git
    out = []
    for section in _plain_sections(diff):
        first = section.split("\n")
        old, new = _strip_prefix(first[0][4:]), _strip_prefix(first[1][4:])
        name = new or old or ""
        out.append(f"diff --git a/{old or name} b/{new or name}\n{section}")
    return out


def _describe(section: str) -> ChangedFile:
    lines = [line.removesuffix("\r") for line in section.split("\n")]  # a CRLF diff from Windows
    match = GIT_HEADER.match(lines[0])
    old: str | None = match.group(1) if match else None
    new: str | None = match.group(2) if match else None
    status: FileStatus = "modified"
    renamed_from: str | None = None
    binary = False
    for line in lines[1:]:
        if line.startswith("@@"):
            break
        if line.startswith("new file mode"):
            status = "added"
        elif line.startswith("deleted file mode"):
            status = "deleted"
        elif line.startswith("rename from "):
            status, renamed_from = "renamed", line[len("rename from ") :]
        elif line.startswith("copy from "):
            status, renamed_from = "copied", line[len("copy from ") :]
        elif line.startswith("Binary files ") or line.startswith("GIT binary patch"):
            binary = True
        elif line.startswith("--- "):
            old = _strip_prefix(line[4:])
            if old is None:
                status = "added"
        elif line.startswith("+++ "):
            new = _strip_prefix(line[4:])
            if new is None:
                status = "deleted"
    path = check_path((new if status != "deleted" else old) or new or old or "")
    old_path = check_path(renamed_from) if renamed_from else None
    changed = ChangedFile(path=path, status=status, old_path=old_path, binary=binary)
    if status != "deleted" and not binary:
        changed.ranges = changed_ranges(section)
    return changed


def _why_withheld(changed: ChangedFile, section: str) -> str | None:
    for name in (changed.path, changed.old_path):
        if name is not None and is_secret_name(name):
            return "a file that conventionally holds secrets"
    return PRIVATE_KEY_WITHHELD if holds_private_key(section) else None


def supplied_changes(diff: str, *, max_diff_chars: int, max_files: int = SuppliedLimits.max_diff_files) -> ChangeSet:
    """The client's unified diff as a :class:`ChangeSet`: changed files, their changed lines, the diff
    (secret files' sections withheld, cut at ``max_diff_chars`` with a note). Bad paths raise
    :class:`SuppliedCodeError`."""
    files: list[ChangedFile] = []
    sections: list[tuple[str, str]] = []
    found = _sections(diff)
    if len(found) > max_files:  # 2 MB of bare headers is ~70,000 files: seconds of parsing, megabytes stored
        raise SuppliedCodeError(
            f"diff: {len(found):,} file sections; the limit is {max_files:,}. Send the diff of fewer files (the "
            "ones this review is about), or split the review."
        )
    for section in found:
        try:
            changed = _describe(section)
        except SuppliedCodeError as exc:
            raise SuppliedCodeError("diff: " + str(exc).removeprefix("files: ")) from None
        why = _why_withheld(changed, section)
        files.append(changed)
        sections.append((changed.path, withheld_section(changed.path, why) if why else section))
    if not files:
        raise SuppliedCodeError(
            "diff: no file sections found; send unified diff text as `git diff` prints it (sections starting "
            "with 'diff --git' or '--- a/…' / '+++ b/…')."
        )
    text, truncated = cap(sections, max_diff_chars)
    return ChangeSet(
        spec=SUPPLIED_KIND,
        kind=SUPPLIED_KIND,
        base="",
        head=None,
        diff=text,
        diff_chars=sum(len(s) for _, s in sections),
        truncated=truncated,
        files=files,
    )
