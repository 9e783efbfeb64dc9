"""Project files as a run sees them: confined to the project root, UTF-8 text only, size-capped.

Every refusal is a :class:`SandboxError` whose message tells the model what to do instead.
Methods here block (file I/O); the async callers run them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

#: Folders list_files never walks into (tooling, dependencies, caches).
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".idea",
    }
)
#: Folders no file tool reads: version-control internals can hold credentials.
DENIED_DIRS = frozenset({".git", ".hg", ".svn"})
#: Files that conventionally hold secrets: never sent to the model (their names may still be listed).
SECRET_FILES = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    ".netrc",
    ".pypirc",
    ".npmrc",
)
SECRET_FILE_EXCEPTIONS = frozenset({".env.example", ".env.sample", ".env.template", ".env.dist"})
MAX_WALKED_ENTRIES = 100_000


class SandboxError(Exception):
    """A path or file the file tools refuse; the message is written for the model."""


class NotInProjectError(SandboxError):
    """The path does not name an existing file (as opposed to naming one that is refused)."""


@dataclass(frozen=True)
class FileText:
    path: str
    """Project-relative POSIX path."""
    text: str
    size: int


def check_relative(raw: str, what: str) -> str:
    """``raw`` as a safe project-relative path, or :class:`SandboxError` saying why not."""
    return _check_relative(raw, what)


def _check_relative(raw: str, what: str) -> str:
    value = raw.strip()
    if not value:
        raise SandboxError(f"The {what} is empty; give a path relative to the project root, e.g. 'src/app.py'.")
    if "\x00" in value:
        raise SandboxError(f"The {what} contains a NUL byte; give a plain relative path.")
    if value.startswith("~") or PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute():
        raise SandboxError(
            f"Absolute {what}s are refused ({value!r}): file tools only see the project, so give a path "
            "relative to the project root, e.g. 'src/app.py'."
        )
    if ".." in PurePosixPath(value.replace("\\", "/")).parts:
        raise SandboxError(
            f"'..' is refused in {what}s ({value!r}): file tools only see files inside the project root."
        )
    return value


def is_secret_name(name: str) -> bool:
    """Does a file called ``name`` conventionally hold secrets (never sent to the model)?"""
    if name in SECRET_FILE_EXCEPTIONS:
        return False
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_FILES)


_is_secret_file = is_secret_name


class ProjectSandbox:
    """Read-only view of the files under ``root``."""

    def __init__(self, root: Path, *, max_file_bytes: int, denied: Sequence[Path] = ()) -> None:
        self.root = root.resolve()
        self.max_file_bytes = max_file_bytes
        self._denied = tuple(Path(os.path.realpath(p if p.is_absolute() else self.root / p)) for p in denied)

    def resolve(self, raw: str) -> Path:
        """The real path of an existing regular file inside the root, or :class:`SandboxError`."""
        value = _check_relative(raw, "path")
        try:
            return self._resolve(value)
        except OSError as exc:  # e.g. a name too long for the file system
            raise NotInProjectError(f"{value!r} cannot be opened ({exc.strerror or exc}).") from None

    def _resolve(self, value: str) -> Path:
        real = Path(os.path.realpath(self.root / value))
        if not real.is_relative_to(self.root):
            raise SandboxError(
                f"{value!r} is a symlink leading outside the project root; refused. Read files inside the project."
            )
        rel = real.relative_to(self.root)
        if DENIED_DIRS.intersection(rel.parts) or any(real.is_relative_to(d) for d in self._denied):
            raise SandboxError(f"{value!r} is internal tool data (version control or agent-personas) and not readable.")
        if _is_secret_file(real.name):
            raise SandboxError(
                f"{value!r} conventionally holds secrets, which are never sent to the model. Review how the "
                "code loads it instead, and say in the review that you did not read it."
            )
        if not real.exists():
            raise NotInProjectError(f"No such file: {value!r}. Use list_files with a glob to find the right path.")
        if real.is_dir():
            pattern = "**/*" if rel == Path() else f"{rel.as_posix()}/**/*"
            raise SandboxError(f"{value!r} is a directory; call list_files('{pattern}') to see its files.")
        if not real.is_file():
            raise SandboxError(f"{value!r} is not a regular file (device, socket or pipe); refused.")
        return real

    def relative(self, real: Path) -> str:
        return real.relative_to(self.root).as_posix()

    def read_text(self, raw: str) -> FileText:
        """The whole file as text; refuses binary, non-UTF-8 and over-cap files."""
        real = self.resolve(raw)
        rel = self.relative(real)
        try:
            fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(fd, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                data = b"" if size > self.max_file_bytes else handle.read(self.max_file_bytes + 1)
        except OSError as exc:
            raise SandboxError(f"{rel!r} cannot be read ({exc.strerror or exc}); skip it.") from None
        if size > self.max_file_bytes or len(data) > self.max_file_bytes:
            raise SandboxError(
                f"{rel!r} is {max(size, len(data)):,} bytes, over the {self.max_file_bytes:,}-byte cap of "
                "read_file; "
                "it is not readable. Read the smaller files it relates to, or say in the review that it was "
                "too large to read."
            )
        if b"\x00" in data:
            raise SandboxError(f"{rel!r} is a binary file; only text files can be read.")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SandboxError(f"{rel!r} is not UTF-8 text; only text files can be read.") from None
        return FileText(path=rel, text=text.removeprefix("\ufeff"), size=len(data))

    def list_files(self, pattern: str, *, limit: int) -> tuple[list[str], int]:
        """Files matching a glob (``*``, ``?``, ``[...]``, ``**``, ``{a,b}``): (first ``limit``, total)."""
        value = _check_relative(pattern, "pattern")
        regex = glob_regex(value)
        matches = sorted(rel for rel in self._walk() if regex.fullmatch(rel))
        return matches[:limit], len(matches)

    def _walk(self) -> Iterable[str]:
        seen = 0
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            here = Path(dirpath)
            dirnames[:] = sorted(
                d for d in dirnames if d not in SKIPPED_DIRS and not any((here / d) == p for p in self._denied)
            )
            for name in filenames:
                seen += 1
                if seen > MAX_WALKED_ENTRIES:
                    return
                path = here / name
                if path.is_symlink() and not Path(os.path.realpath(path)).is_relative_to(self.root):
                    continue
                yield path.relative_to(self.root).as_posix()


def _expand_braces(pattern: str) -> list[str]:
    match = re.search(r"\{([^{}]*,[^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [p for option in match.group(1).split(",") for p in _expand_braces(head + option + tail)]


def _glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            inner = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append("[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob over project-relative POSIX paths (``**`` spans folders, ``*`` does not)."""
    return re.compile("|".join(f"(?:{_glob_to_regex(p)})" for p in _expand_braces(pattern.replace("\\", "/"))))
