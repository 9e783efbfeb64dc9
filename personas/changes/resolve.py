"""Resolve a ``changes`` value (``working``, ``staged``, ``A...B``, ``A..B``, ``REV``) with git.

Refs are checked against a strict pattern before git sees them (no leading ``-``, no ``..`` path
parts, no shell characters) and then verified as commits with ``rev-parse --verify``.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

from personas.changes.diff import (
    cap,
    changed_ranges,
    merge_lines,
    new_file_section,
    split_sections,
    withheld_section,
)
from personas.changes.git import ChangesError, fetch_hint, run_git
from personas.changes.models import INDEX_HEAD, ChangedFile, ChangeKind, ChangeSet, FileStatus, LineRange
from personas.runtime.private_keys import PRIVATE_KEY_WITHHELD, holds_private_key
from personas.runtime.sandbox import (
    DENIED_DIRS,
    SKIPPED_DIRS,
    is_secret_name,
    open_beneath,
)

DEFAULT_MAX_DIFF_CHARS = 100_000
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
MAX_SPEC_CHARS = 200
MAX_UNTRACKED_FILES = 500
MAX_UNTRACKED_SHOWN_BYTES = 256 * 1024
REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./~^@{}+-]*")
STATUS: dict[str, FileStatus] = {
    "A": "added",
    "M": "modified",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "T": "type_changed",
}
# --ignore-submodules=dirty: git would otherwise run `git status` inside each submodule, which runs
# the filters its own config (.git/modules/<name>/config) defines.
DIFF_OPTIONS = (
    "--relative",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--ignore-submodules=dirty",
    "--submodule=short",
    "-M",
    "--unified=3",
)
HINT = "Use 'working', 'staged', or a git range such as 'origin/main...HEAD', 'main..feature' or 'HEAD~3'."


def _check_ref(ref: str, spec: str) -> str:
    if (
        not REF.fullmatch(ref)
        or ".." in ref
        or "//" in ref
        or "/." in ref
        or ref.endswith((".", "/", ".lock"))
        or ("@{" in ref.replace("@{u}", "").replace("@{upstream}", "") and not re.search(r"@\{\d+\}", ref))
    ):
        raise ChangesError(
            f"changes={spec!r}: {ref!r} is not a valid git revision (letters, digits and _ . / ~ ^ @ {{ }} + - "
            f"only, not starting with '-' or '.', no '..' inside a ref). {HINT}"
        )
    return ref


def validate_spec(spec: str) -> tuple[ChangeKind, str | None, str | None, bool]:
    """(kind, base ref, head ref, symmetric) for a ``changes`` value, or :class:`ChangesError`."""
    value = spec.strip()
    if not value:
        raise ChangesError(f"changes is empty. {HINT}")
    if len(value) > MAX_SPEC_CHARS:
        raise ChangesError(f"changes is {len(value)} characters long; the limit is {MAX_SPEC_CHARS}. {HINT}")
    if value in ("working", "staged"):
        return value, None, None, False  # type: ignore[return-value]
    symmetric = "..." in value
    if symmetric or ".." in value:
        base, _, head = value.partition("..." if symmetric else "..")
        base, head = base or "HEAD", head or "HEAD"
    else:
        base, head = value, "HEAD"
    return "range", _check_ref(base, value), _check_ref(head, value), symmetric


async def _toplevel(root: Path) -> None:
    if not await asyncio.to_thread(root.is_dir):
        raise ChangesError(f"The project root {root} is not a directory, so 'changes' cannot be resolved.")
    result = await run_git(root, "rev-parse", "--is-inside-work-tree")
    if result.code != 0 or result.out.strip() != b"true":
        raise ChangesError(
            f"The project root {root} is not inside a git work tree ({result.err or 'git said no'}), so "
            "'changes' cannot be resolved: run the server in a git checkout (PERSONAS_PROJECT_ROOT), or omit "
            "'changes' and name files in 'context' instead."
        )


async def _commit(root: Path, ref: str, spec: str) -> str:
    result = await run_git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    sha = result.out.decode().strip()
    if result.code != 0 or not re.fullmatch(r"[0-9a-f]{40,64}", sha):
        raise ChangesError(
            f"changes={spec!r}: {ref!r} is not a commit in the repository at {root} (unknown ref, or not fetched: "
            f"in CI, fetch enough history, e.g. actions/checkout with fetch-depth: 0). {HINT}"
        )
    return sha


async def _head_or_empty(root: Path) -> str:
    result = await run_git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    return result.out.decode().strip() if result.code == 0 else EMPTY_TREE


def _parse_name_status(raw: bytes) -> list[ChangedFile]:
    parts = raw.decode("utf-8", "replace").split("\0")
    files: list[ChangedFile] = []
    i = 0
    while i < len(parts) and parts[i]:
        code = parts[i]
        letter = code[0]
        if letter in ("R", "C"):
            old, new = parts[i + 1], parts[i + 2]
            files.append(ChangedFile(path=new, old_path=old, status=STATUS[letter]))
            i += 3
        else:
            files.append(ChangedFile(path=parts[i + 1], status=STATUS.get(letter, "modified")))
            i += 2
    return files


def _binary_paths(raw: bytes) -> set[str]:
    """Paths that ``--numstat -z`` reports as binary (``-\\t-\\t``)."""
    parts = raw.decode("utf-8", "replace").split("\0")
    binary: set[str] = set()
    i = 0
    while i < len(parts) and parts[i]:
        added, deleted, path = [*parts[i].split("\t", 2), "", ""][:3]
        if path == "":  # a rename: the old and new paths follow
            path = parts[i + 2] if i + 2 < len(parts) else ""
            i += 3
        else:
            i += 1
        if added == "-" and deleted == "-":
            binary.add(path)
    return binary


def _withheld(path: str, denied: Sequence[str]) -> str | None:
    parts = Path(path).parts
    if DENIED_DIRS.intersection(parts) or any(path == d or path.startswith(d + "/") for d in denied):
        return "internal tool data"
    if is_secret_name(path):
        return "a file that conventionally holds secrets"
    return None


def _relative_all(paths: Sequence[Path], root: Path) -> list[str]:
    resolved = [p.resolve() for p in paths]
    return [p.relative_to(root).as_posix() for p in resolved if p.is_relative_to(root)]


async def _untracked(root: Path, denied: Sequence[str]) -> tuple[list[ChangedFile], list[tuple[str, str]]]:
    result = await run_git(root, "ls-files", "--others", "--exclude-standard", "-z")
    names = [n for n in result.out.decode("utf-8", "replace").split("\0") if n]
    return await asyncio.to_thread(_read_untracked, root, sorted(names)[:MAX_UNTRACKED_FILES], denied)


def _read_untracked(
    root: Path, names: list[str], denied: Sequence[str]
) -> tuple[list[ChangedFile], list[tuple[str, str]]]:
    files: list[ChangedFile] = []
    sections: list[tuple[str, str]] = []
    for name in names:
        if SKIPPED_DIRS.intersection(Path(name).parts) or any(name.startswith(d + "/") for d in denied):
            continue  # dependencies, caches and our own data dir are not part of anyone's change
        why = _withheld(name, denied)
        path = root / name
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if why is None and not stat.S_ISREG(info.st_mode):
            why = "not a regular file (symlink, socket or device)"
        if why is not None:
            files.append(ChangedFile(path=name, status="untracked"))
            sections.append((name, withheld_section(name, why)))
            continue
        try:  # no symlink followed, at any component: the file or a folder may have been swapped since
            with os.fdopen(open_beneath(root, name.split("/")), "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    continue
                data = handle.read(MAX_UNTRACKED_SHOWN_BYTES + 1)
        except OSError:
            continue
        if holds_private_key(data.decode("utf-8", "replace")):  # a copy or hard link of a key, any name
            files.append(ChangedFile(path=name, status="untracked"))
            sections.append((name, withheld_section(name, PRIVATE_KEY_WITHHELD)))
            continue
        section, binary, count = new_file_section(name, data, max_bytes=MAX_UNTRACKED_SHOWN_BYTES)
        ranges = [LineRange(start=1, end=count)] if count else []
        files.append(ChangedFile(path=name, status="untracked", binary=binary, ranges=ranges))
        sections.append((name, section))
    return files, sections


def _unsplit_note(files: Sequence[ChangedFile]) -> str:
    names = ", ".join(f.path for f in files[:50]) + (f" and {len(files) - 50} more" if len(files) > 50 else "")
    return (
        "(git's diff could not be split per file, so it is not shown: secret files' lines must never be "
        f"sent. Read the changed files with read_file: {names}.)\n"
    )


async def _bounds(
    root: Path, spec: str, parsed: tuple[ChangeKind, str | None, str | None, bool]
) -> tuple[str, str | None, tuple[str, ...]]:
    """(base commit, head (commit, ':' or None), the revisions to give git diff)."""
    kind, base_ref, head_ref, symmetric = parsed
    if kind != "range":
        base = await _head_or_empty(root)
        if kind == "staged":
            return base, INDEX_HEAD, ("--cached", base)
        return base, None, (base,)
    assert base_ref is not None
    assert head_ref is not None
    base = await _commit(root, base_ref, spec)
    head = await _commit(root, head_ref, spec)
    if symmetric:
        merge_base = await run_git(root, "merge-base", "--end-of-options", base, head)
        if merge_base.code != 0:
            raise ChangesError(
                f"changes={spec!r}: {base_ref} and {head_ref} have no common ancestor; use 'A..B' to compare "
                "the two commits directly."
            )
        base = merge_base.out.decode().strip()
    return base, head, (base, head)


def _edits_attributes(files: Sequence[ChangedFile]) -> bool:
    """Does the change add, edit or remove a ``.gitattributes`` file?"""
    return any(p.rsplit("/", 1)[-1] == ".gitattributes" for f in files for p in (f.path, f.old_path) if p)


def _sections(
    files: list[ChangedFile], raw_sections: list[str], binary: set[str] | None, denied_rel: Sequence[str]
) -> tuple[list[tuple[str, str]], bool]:
    """Each file's diff section (secret and internal files withheld) and its changed lines; and
    whether git's sections lined up with its file list. ``binary`` None: git diffed every file as
    text, and a section holding a NUL byte is a binary file's."""
    sections: list[tuple[str, str]] = []
    # git prints a type change (file <-> symlink) as two sections: a deletion and a creation.
    widths = [2 if f.status == "type_changed" else 1 for f in files]
    aligned = len(raw_sections) == sum(widths)
    start = 0
    for changed, width in zip(files, widths, strict=True):
        own = raw_sections[start : start + width] if aligned else []
        if binary is None:
            changed.binary = any("\x00" in part for part in own)
            if changed.binary:
                own = [withheld_section(changed.path, "a binary file")]
        else:
            changed.binary = changed.path in binary
        section = "".join(own)
        start += width
        if changed.status != "deleted" and own and not changed.binary:
            changed.ranges = changed_ranges(own[-1])  # the new file's lines
        # A rename or copy out of a secret file shows the secret's removed lines: check both names.
        why = _withheld(changed.path, denied_rel) or (
            _withheld(changed.old_path, denied_rel) if changed.old_path else None
        )
        if why is None and holds_private_key(section):
            why = PRIVATE_KEY_WITHHELD
        if why is not None:
            section = withheld_section(changed.path, why)
        if section:
            sections.append((changed.path, section))
    return sections, aligned


async def resolve_changes(
    root: Path,
    spec: str,
    *,
    max_diff_chars: int = DEFAULT_MAX_DIFF_CHARS,
    denied: Sequence[Path] = (),
) -> ChangeSet:
    """Resolve ``spec`` in the git work tree at ``root``; :class:`ChangesError` says what is wrong."""
    parsed = validate_spec(spec)
    kind = parsed[0]
    root = await asyncio.to_thread(root.resolve)
    await _toplevel(root)
    denied_rel = [rel for rel in await asyncio.to_thread(_relative_all, denied, root) if rel]
    base, head, revs = await _bounds(root, spec, parsed)
    names = await run_git(root, "diff", *DIFF_OPTIONS, "--name-status", "-z", *revs, "--")
    if names.code != 0:
        raise ChangesError(f"changes={spec!r}: git diff failed in {root}: {fetch_hint(names.err)}")
    files = _parse_name_status(names.out)
    # A change that edits .gitattributes may mark its own code binary ('*.py -diff'): git would show
    # 'Binary files differ' and hide the change from its reviewer. Then every file is diffed as text,
    # and only what holds NUL bytes counts as binary.
    as_text = _edits_attributes(files)
    binary = (
        None
        if as_text
        else _binary_paths((await run_git(root, "diff", *DIFF_OPTIONS, "--numstat", "-z", *revs, "--")).out)
    )
    patch = await run_git(root, "diff", *DIFF_OPTIONS, *(("--text",) if as_text else ()), *revs, "--")
    if patch.code != 0 and not patch.cut:
        raise ChangesError(f"changes={spec!r}: git diff failed in {root}: {fetch_hint(patch.err)}")
    text = patch.out.decode("utf-8", "replace")
    raw_sections = split_sections(text)
    if patch.cut and raw_sections:
        raw_sections[-1] += "[… git's output was cut at its size limit]\n"
    sections, aligned = _sections(files, raw_sections, binary, denied_rel)
    if not aligned and files:  # never show git's diff whole: it may hold a withheld file's lines
        sections = [("(diff)", _unsplit_note(files))]
    if kind == "working":
        extra_files, extra_sections = await _untracked(root, denied_rel)
        files += extra_files
        sections += extra_sections
    diff, truncated = cap(sections, max_diff_chars)
    total = sum(len(s) for _, s in sections)
    return ChangeSet(
        spec=spec.strip(),
        kind=kind,
        base=base,
        head=head,
        diff=diff,
        diff_chars=total,
        truncated=truncated or patch.cut,
        files=files,
    )


__all__ = ["DEFAULT_MAX_DIFF_CHARS", "EMPTY_TREE", "merge_lines", "resolve_changes", "validate_spec"]
