"""Running git: argument lists only (never a shell), bounded in time and output, no pager or prompts.

Repository configuration cannot run programs through these calls: external diff drivers, textconv
filters, the fsmonitor hook and every clean/smudge/process filter are switched off on every command
line; git may not fetch (a partial clone's lazy fetch would run the ``uploadpack`` command, the
``ext::`` transport or the ssh command its config names); submodules' work trees are never
inspected (git would run ``git status`` in them, with the submodule's own filters).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from contextlib import suppress
from pathlib import Path

GIT_TIMEOUT_SECONDS = 30.0
MAX_GIT_OUTPUT_BYTES = 32 * 1024 * 1024
NO_PROTOCOL = "none-allowed"
"""GIT_ALLOW_PROTOCOL: a protocol name that does not exist, so every transport is refused."""
SAFE_CONFIG = (
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.quotePath=false",
    "-c",
    "diff.external=",
    "-c",
    "color.ui=false",
)


class ChangesError(ValueError):
    """The ``changes`` value cannot be resolved; the message names the value, the cause and the fix."""


def _git_binary() -> str:
    found = shutil.which("git")
    if found is None:
        raise ChangesError("git is not installed, so 'changes' cannot be resolved: install git, or omit 'changes'.")
    return found


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    # Literal pathspecs: a path a model asks for ('*', '.en?', ':(glob)…') must name one file, never
    # match others (such as a secret file the name checks refused).
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", GIT_PAGER="cat", LC_ALL="C", GIT_LITERAL_PATHSPECS="1")
    # No transport at all (this overrides every protocol.*.allow of the repository's config), and no
    # lazy fetch of a partial clone's missing objects (git >= 2.45 says so plainly).
    env.update(GIT_ALLOW_PROTOCOL=NO_PROTOCOL, GIT_NO_LAZY_FETCH="1")
    return env


def fetch_hint(err: str) -> str:
    """git's error, and what to do when it wanted to fetch missing objects."""
    if NO_PROTOCOL not in err and "promisor remote" not in err and "lazy fetch" not in err:
        return err
    return err.rstrip(".") + (
        ". This checkout is a partial clone without the objects this change needs, and agent-personas never "
        "lets git fetch them (a repository's own config could run commands through a fetch). Fetch them "
        "yourself in this checkout first (e.g. run the same `git diff` once, or use a full clone: in CI, "
        "actions/checkout without 'filter'), then retry."
    )


def _filter_overrides(git: str, root: Path) -> list[str]:
    """``-c`` options emptying every clean/smudge/process filter the repository's config defines: a
    project unpacked from an archive brings its own ``.git/config``, and ``git diff`` of the working
    tree would run a filter command named there (``.gitattributes`` picks it). Reading the config
    runs nothing."""
    try:
        done = subprocess.run(
            [git, *SAFE_CONFIG, "-C", str(root), "config", "--null", "--name-only", "--get-regexp", r"^filter\."],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=git_env(),
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    drivers = {
        name[len("filter.") : name.rindex(".")]
        for name in done.stdout.decode("utf-8", "replace").split("\0")
        if name.startswith("filter.") and name.count(".") >= 2
    }
    options: list[str] = []
    for driver in sorted(drivers):
        for key, value in (("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")):
            options += ["-c", f"filter.{driver}.{key}={value}"]
    return options


def command(root: Path, args: tuple[str, ...]) -> list[str]:
    git = _git_binary()
    return [git, *SAFE_CONFIG, *_filter_overrides(git, root), "-C", str(root), *args]


class GitResult:
    def __init__(self, code: int, out: bytes, err: bytes, cut: bool) -> None:
        self.code = code
        self.out = out
        self.err = err.decode("utf-8", "replace").strip()
        self.cut = cut
        """True when the output was longer than the cap and was cut there."""


async def run_git(root: Path, *args: str, max_bytes: int = MAX_GIT_OUTPUT_BYTES) -> GitResult:
    """Run ``git -C root args`` and collect at most ``max_bytes`` of its output."""
    argv = await asyncio.to_thread(command, root, args)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=git_env(),
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    chunks: list[bytes] = []
    size = 0
    cut = False

    async def read() -> None:
        nonlocal size, cut
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65_536):
            if size + len(chunk) > max_bytes:
                chunks.append(chunk[: max_bytes - size])
                size = max_bytes
                cut = True
                with suppress(ProcessLookupError):
                    proc.kill()
                return
            chunks.append(chunk)
            size += len(chunk)

    try:
        async with asyncio.timeout(GIT_TIMEOUT_SECONDS):
            _, err = await asyncio.gather(read(), proc.stderr.read())
            await proc.wait()
    except TimeoutError:
        with suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise ChangesError(
            f"git {args[0]} took longer than {GIT_TIMEOUT_SECONDS:g} s in {root}; narrow 'changes' to fewer commits."
        ) from None
    return GitResult(proc.returncode or 0, b"".join(chunks), err[:4000], cut)


def run_git_sync(root: Path, *args: str, max_bytes: int = MAX_GIT_OUTPUT_BYTES) -> GitResult:
    """The blocking twin of :func:`run_git`, for file tools running on a worker thread."""
    try:
        done = subprocess.run(
            command(root, args),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=git_env(),
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ChangesError(f"git {args[0]} took longer than {GIT_TIMEOUT_SECONDS:g} s in {root}.") from None
    out = done.stdout
    return GitResult(done.returncode, out[:max_bytes], done.stderr[:4000], len(out) > max_bytes)
