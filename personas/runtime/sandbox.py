"""Project files as a run sees them: confined to the project root, UTF-8 text only, size-capped.

Every refusal is a :class:`SandboxError` whose message tells the model what to do instead.
Methods here block (file I/O); the async callers run them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from personas.runtime.globs import Glob, GlobError, compile_glob
from personas.runtime.private_keys import holds_private_key

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
#: File names (matched case-insensitively) that conventionally hold secrets: never sent to the model
#: (their names may still be listed).
SECRET_FILES = (
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    ".env~",
    "*.env~",
    ".*.swp",
    ".vault-token",
    ".*_history",
    "kubeconfig",
    "*.kubeconfig",
    "*-secrets.y*ml",
    "*_secrets.y*ml",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.ppk",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "*.tfstate",
    "*.tfstate.*",
    "*.tfvars",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    "_netrc",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    ".pgpass",
    ".my.cnf",
    ".htpasswd",
    ".dockercfg",
    ".boto",
    ".s3cfg",
    "credentials",
    "credentials*.json",
    "client_secret*.json",
    "*service-account*.json",
    "*serviceaccount*.json",
    "secrets.y*ml",
    "*.secrets",
    "credentials.toml",
    "*credentials.csv",
    "*accesskeys.csv",
    ".yarnrc",
    ".yarnrc.yml",
    ".terraformrc",
    "terraform.rc",
    # MCP client configs carry each server's env, API keys included (.cursor/mcp.json, .vscode/mcp.json,
    # Claude Code's .mcp.json, Claude Desktop's config)
    "mcp.json",
    ".mcp.json",
    "claude_desktop_config.json",
)
#: Files secret by folder and name (the last two path parts, lower case): the GitHub CLI's token, Claude
#: Code's personal settings (their env holds keys).
SECRET_PATHS = frozenset({"gh/hosts.yml", "gh/hosts.yaml", ".claude/settings.local.json"})
#: Folders (any depth, case-insensitive) whose every file is refused: SSH, GnuPG, cloud CLI config.
SECRET_DIRS = frozenset({".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", "gcloud"})
SECRET_FILE_EXCEPTIONS = (
    ".env.example",
    ".env.sample",
    ".env.template",
    ".env.dist",
    "*.pub",
    "*.example",
    "*.sample",
    "*.template",
)
MAX_WALKED_ENTRIES = 100_000
#: Never a project root (PERSONAS_PROJECT_ROOT=/ by mistake, a service started in /): the whole
#: system's files (/etc/shadow to a server run as root, other users' homes) would be the model's.
#: On macOS /etc resolves to /private/etc.
SYSTEM_DIRS = tuple(
    Path(p) for p in ("/proc", "/sys", "/dev", "/run", "/boot", "/etc", "/private/etc", "/private/var/root")
)


def _home() -> Path | None:
    try:
        return Path(os.path.realpath(Path.home()))
    except (RuntimeError, KeyError, OSError):  # no HOME and no passwd entry
        return None


def system_root(path: Path) -> bool:
    """Is ``path`` (resolved) the file system's root, a system folder, or the user's home folder or one
    above it (a client that starts servers in ``~``), which no project is? A home folder holds every
    tool's credentials under names no list covers (``.config/rclone/rclone.conf``, ``.m2/settings.xml``,
    ``.config/github-copilot/hosts.json``)."""
    if path == Path(path.anchor) or any(path == d or path.is_relative_to(d) for d in SYSTEM_DIRS):
        return True
    home = _home()
    return home is not None and home.is_relative_to(path)


def _folded(parts: Sequence[str]) -> tuple[str, ...]:
    return tuple(part.casefold() for part in parts)


class SandboxError(Exception):
    """A path or file the file tools refuse; the message is written for the model."""


class SymlinkSwapError(OSError):
    """A path component turned into a symlink between the check and the open."""


_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def _open_no_follow(name: str, flags: int, dir_fd: int) -> int:
    """``os.open(name, flags, dir_fd=dir_fd)``; a symlink there (ELOOP, or ENOTDIR for a folder
    replaced by a link to a file) is a :class:`SymlinkSwapError`."""
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise SymlinkSwapError(exc.errno, f"{name} is a symlink now") from None
        raise


def open_beneath(root: Path, parts: Sequence[str]) -> int:
    """A read-only descriptor for ``root/parts…``, opened one path component at a time from ``root``
    with no-follow semantics: a folder or file swapped for a symlink after a check made the open fail
    (:class:`SymlinkSwapError`) instead of escaping."""
    if not parts:
        raise IsADirectoryError(errno.EISDIR, "is the project root")
    fd = os.open(root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    try:
        for part in parts[:-1]:
            nxt = _open_no_follow(part, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, fd)
            os.close(fd)
            fd = nxt
        return _open_no_follow(parts[-1], os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC, fd)
    finally:
        os.close(fd)


class NotInProjectError(SandboxError):
    """The path does not name an existing file (as opposed to naming one that is refused)."""


@dataclass(frozen=True)
class FileText:
    path: str
    """Project-relative POSIX path."""
    text: str
    size: int


def file_text(rel: str, data: bytes) -> FileText:
    """What read_file returns for ``data``: UTF-8 text only (binary and other encodings refused), BOM dropped,
    never a private key.

    The one text check for every source of project files (disk, git blobs, client-supplied files).
    """
    if b"\x00" in data:
        raise SandboxError(f"{rel!r} is a binary file; only text files can be read.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SandboxError(f"{rel!r} is not UTF-8 text; only text files can be read.") from None
    if holds_private_key(text):
        raise SandboxError(
            f"{rel!r} holds a private key (a '-----BEGIN … PRIVATE KEY-----' block), which is never sent to the "
            "model. A committed private key is itself a finding to report (high severity); review how the code "
            "loads its keys instead, and say in the review that you did not read this file."
        )
    return FileText(path=rel, text=text.removeprefix("\ufeff"), size=len(data))


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


def compile_pattern(raw: str) -> Glob:
    """A list_files pattern checked (relative, bounded, well-formed) and compiled, or :class:`SandboxError`."""
    value = _check_relative(raw, "pattern")
    try:
        return compile_glob(value)
    except GlobError as exc:
        raise SandboxError(str(exc)) from None


def is_secret_name(path: str) -> bool:
    """Does the file at ``path`` (a name or a project-relative path, any case) conventionally hold
    secrets? Such files are never sent to the model."""
    parts = [p for p in path.replace("\\", "/").lower().split("/") if p]
    if not parts:
        return False
    name = parts[-1]
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_FILE_EXCEPTIONS):
        return False
    if SECRET_DIRS.intersection(parts[:-1]) or "/".join(parts[-2:]) in SECRET_PATHS:
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_FILES)


class ProjectSandbox:
    """Read-only view of the files under ``root``."""

    def __init__(self, root: Path, *, max_file_bytes: int, denied: Sequence[Path] = ()) -> None:
        self.root = root.resolve()
        self.max_file_bytes = max_file_bytes
        self._denied = tuple(Path(os.path.realpath(p if p.is_absolute() else self.root / p)) for p in denied)
        # Compared case-insensitively: on macOS's and Windows' file systems '.agent-os/DATA' is the data dir.
        self._denied_folded = tuple(_folded(d.parts) for d in self._denied)

    def _internal(self, real: Path) -> bool:
        """Is ``real`` version-control internals or agent-personas' own data, in any letter case?"""
        parts = _folded(real.parts)
        if DENIED_DIRS.intersection(parts[len(self.root.parts) :]):
            return True
        return any(parts[: len(d)] == d for d in self._denied_folded)

    def resolve(self, raw: str) -> Path:
        """The real path of an existing regular file inside the root, or :class:`SandboxError`."""
        value = _check_relative(raw, "path")
        try:
            return self._resolve(value)
        except OSError as exc:  # e.g. a name too long for the file system
            raise NotInProjectError(f"{value!r} cannot be opened ({exc.strerror or exc}).") from None

    def _check_root(self) -> None:
        if system_root(self.root):
            raise SandboxError(
                f"The project root is {self.root}, the file system's root, a system folder or the home folder "
                "(or a folder above it), so no file is read. Set PERSONAS_PROJECT_ROOT to the project's folder (or "
                "start the server there); if the project is the home folder itself (a container whose HOME is its "
                "work folder), set HOME to another folder. Review from the task and context alone meanwhile."
            )

    def _resolve(self, value: str) -> Path:
        self._check_root()
        real = Path(os.path.realpath(self.root / value))
        if not real.is_relative_to(self.root):
            raise SandboxError(
                f"{value!r} is a symlink leading outside the project root; refused. Read files inside the project."
            )
        rel = real.relative_to(self.root)
        if self._internal(real):
            raise SandboxError(f"{value!r} is internal tool data (version control or agent-personas) and not readable.")
        if is_secret_name(rel.as_posix()) or is_secret_name(value):
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
            fd = self._open_beneath(real)
        except SymlinkSwapError:
            raise SandboxError(
                f"{rel!r} changed while it was being opened (a folder or the file became a symlink); refused."
            ) from None
        except OSError as exc:
            raise SandboxError(f"{rel!r} cannot be read ({exc.strerror or exc}); skip it.") from None
        try:
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise SandboxError(f"{rel!r} is not a regular file (device, socket or pipe); refused.")
                size = info.st_size
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
        return file_text(rel, data)

    def _open_beneath(self, real: Path) -> int:
        return open_beneath(self.root, real.relative_to(self.root).parts)

    def list_files(self, pattern: str, *, limit: int) -> tuple[list[str], int]:
        """Files matching a glob (``*``, ``?``, ``[...]``, ``**``, ``{a,b}``; see :mod:`personas.runtime.globs`):
        (first ``limit``, total). A malformed or oversized pattern is a :class:`SandboxError`."""
        glob = compile_pattern(pattern)
        self._check_root()
        matches = sorted(rel for rel in self._walk() if glob.match(rel))
        return matches[:limit], len(matches)

    def _walk(self) -> Iterable[str]:
        seen = 0
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if d.lower() not in SKIPPED_DIRS and not self._internal(here / d))
            for name in filenames:
                seen += 1
                if seen > MAX_WALKED_ENTRIES:
                    return
                path = here / name
                if path.is_symlink() and not Path(os.path.realpath(path)).is_relative_to(self.root):
                    continue
                yield path.relative_to(self.root).as_posix()
