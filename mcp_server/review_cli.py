"""``personas review``: review a change to completion from a shell, CI job or git hook.

Runs the job on an embedded Redis and an in-process worker when REDIS_URL is unset (through the
shared queue and its workers otherwise), shows progress on stderr (a bar on a terminal, plain lines
otherwise), prints or writes the report, and exits 0 (nothing at or above --fail-on), 1 (something
was found) or 2 (usage or runtime error, with the reason).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mcp_server.cli_args import positive_seconds
from mcp_server.settings import Settings
from personas.registry import PersonaRegistry
from personas.report import FORMATS
from personas.runtime.findings import visible
from personas.runtime.review import SEVERITY_ORDER, Finding
from worker.errors import JobRequestError, QueueUnavailableError
from worker.models import JobState, JobStatus

if TYPE_CHECKING:
    from personas.report import ReviewReport
    from worker.service import JobService

DEFAULT_TASK = "Review this change for problems in your domains: bugs, risks and departures from the team's standards."
NO_API_KEY = (
    "personas review: ANTHROPIC_API_KEY is not set, so no model can run the review; nothing was reviewed (exit 2). "
    "Set ANTHROPIC_API_KEY (in CI: a repository secret). Without a key, agent-personas only hands out briefings "
    "for your assistant to apply through the MCP tools; see 'Personas' in the README.\n"
)
INDEX_WAIT_SECONDS = 600.0
EXIT_ERROR = 2
log = logging.getLogger(__name__)
RELEASE_WAIT_SECONDS = 5.0


class ReviewCliError(Exception):
    """A usage or runtime error: printed with its reason, exit code 2."""


def add_review_parser(sub: Any) -> None:
    review = sub.add_parser(
        "review",
        help="Review a change with one or more personas, for CI and git hooks (exit 0 clean, 1 found, 2 error).",
    )
    review.add_argument("task", nargs="?", default=DEFAULT_TASK, help="What to review for (default: everything).")
    review.add_argument("--persona", required=True, help="Persona id(s), comma-separated, e.g. security,qa.")
    review.add_argument(
        "--changes", default="working", help="'working' (default), 'staged', or a git range, e.g. origin/main...HEAD."
    )
    review.add_argument("--format", choices=FORMATS, default="text", help="Report format (default: text).")
    review.add_argument("--output", type=Path, help="Write the report to this file instead of stdout.")
    review.add_argument(
        "--fail-on", choices=SEVERITY_ORDER[:4], help="Exit 1 when a reported finding is at or above this severity."
    )
    review.add_argument("--min-severity", choices=SEVERITY_ORDER, help="Report only findings at or above this.")
    review.add_argument("--cited-only", action="store_true", help="Report only findings citing a team standard.")
    review.add_argument("--priority", choices=["low", "normal", "high"], default="normal")
    review.add_argument(
        "--timeout", type=positive_seconds, help="Give up after this many seconds (default: job timeout + 60)."
    )
    review.add_argument(
        "--allow-persona-changes",
        action="store_true",
        help="Review a range that changes the project's persona files with those changed files (by default it "
        "exits 2: the change under review would define its own reviewer).",
    )


class Progress:
    """Progress on stderr: one redrawn bar on a terminal, a line per change otherwise."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.tty = err.isatty()
        self.last = ""

    async def __call__(self, job: JobState) -> None:
        self.show(job.progress_percent, job.progress_message or job.status.value)

    def show(self, percent: int, message: str) -> None:
        if self.tty:
            filled = percent * 30 // 100
            line = f"\r[{'#' * filled}{'.' * (30 - filled)}] {percent:3d}% {message[:80]}"
            self.err.write(line.ljust(len(self.last)))
            self.last = line
        elif message != self.last:
            from personas.report.workflow_commands import neutralise_text

            # the message can quote the model (a file it reads): no workflow command on stderr either
            self.err.write(neutralise_text(f"personas review: {percent:3d}% {message}\n"))
            self.last = message
        self.err.flush()

    def done(self) -> None:
        if self.tty and self.last:
            self.err.write("\n")
            self.err.flush()


def report_from_job(job: JobState) -> ReviewReport:
    from personas.report import MemberSummary, ReviewReport

    findings = [Finding.model_validate(f) for f in job.findings or []]
    shown = visible(findings, job.min_severity, job.cited_only)
    if job.panel_runs:
        members = [MemberSummary.model_validate(run) for run in job.panel_runs]
    else:
        members = [
            MemberSummary(
                persona=job.persona,
                status=job.status.value,
                findings=len(findings),
                tokens_input=job.tokens_input or 0,
                tokens_output=job.tokens_output or 0,
                error=job.error,
            )
        ]
    return ReviewReport(
        job_id=job.id,
        status=job.status.value,
        task=job.task,
        changes=(job.changes or {}).get("spec"),
        personas=members,
        findings=shown,
        hidden_findings=len(findings) - len(shown),
        markdown=job.result or job.partial_result or "",
        error=job.error,
    )


async def _path_prefix(root: Path) -> str:
    """The project root's path inside its git repository ('' at the top), for SARIF locations."""
    from personas.changes.git import ChangesError, run_git

    try:
        result = await run_git(root, "rev-parse", "--show-prefix")
    except ChangesError:
        return ""
    return result.out.decode().strip() if result.code == 0 else ""


def _changed_persona_files(job: JobState, settings: Settings) -> list[str]:
    """Files of a reviewed range inside the project's personas folder (a PR could override the
    'security' persona with one that reports nothing). Working and staged changes are the developer's
    own and are not checked."""
    changes = job.changes or {}
    if changes.get("kind") != "range":
        return []
    root, folder = settings.project_root.resolve(), settings.personas_dir.resolve()
    if not folder.is_relative_to(root):
        return []
    # In any letter case: on macOS's and Windows' file systems (CI runners too) '.agent-os/Personas/x.md'
    # is checked out into the personas folder.
    prefix = folder.relative_to(root).as_posix().rstrip("/").casefold() + "/"
    paths = [p for f in changes.get("files") or [] for p in (f.get("path"), f.get("old_path")) if p]
    return sorted({p for p in paths if prefix == "./" or p.casefold().startswith(prefix)})


async def _submit(jobs: JobService, persona_ids: list[str], args: argparse.Namespace) -> str:
    fields: dict[str, Any] = {
        "changes": args.changes,
        "min_severity": args.min_severity,
        "cited_only": args.cited_only,
    }
    if len(persona_ids) == 1:
        return (await jobs.submit(persona_ids[0], args.task, None, args.priority, **fields)).job_id
    return (await jobs.submit_panel(persona_ids, args.task, None, args.priority, **fields)).job_id


async def _wait(jobs: JobService, job_id: str, progress: Progress, limit: float) -> JobState:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        report = await jobs.wait(job_id, min(30.0, max(1.0, deadline - loop.time())), progress)
        if report.status.terminal:
            return await jobs.get(job_id)
        if loop.time() >= deadline:
            await jobs.cancel(job_id)
            raise ReviewCliError(f"the review did not finish within {limit:g} s (--timeout); it was cancelled.")


async def _run(settings: Settings, args: argparse.Namespace, persona_ids: list[str], out: TextIO, err: TextIO) -> int:
    """Run the review and deliver its report while the app is still open (a slow shutdown of the
    embedded Redis or index then delays the exit, never the report)."""
    from mcp_server.app import open_app

    registry = PersonaRegistry.load(settings.personas_dir)
    unknown = [p for p in persona_ids if p not in registry.ids()]
    if unknown:
        raise ReviewCliError(f"unknown persona(s) {', '.join(unknown)}; choose from {', '.join(registry.ids())}.")
    embedded = settings.redis_url is None
    progress = Progress(err)
    async with open_app(settings, registry, run_worker=embedded, watch=False) as app:
        if embedded:
            progress.show(0, "Preparing the standards index")
            await app.standards.wait_ready(INDEX_WAIT_SECONDS)
        try:
            job_id = await _submit(app.jobs, persona_ids, args)
        except JobRequestError as exc:
            raise ReviewCliError(str(exc)) from exc
        changed = _changed_persona_files(await app.jobs.get(job_id), settings)
        if changed and not args.allow_persona_changes:
            await app.jobs.cancel(job_id)
            raise ReviewCliError(
                f"the range {args.changes!r} changes persona definitions that this review would run with "
                f"({', '.join(changed[:10])}): the change under review would define its own reviewer, so its "
                "verdict cannot gate it. Have a person review the persona changes; once they are trusted, rerun "
                "with --allow-persona-changes (or review the other files in a separate range)."
            )
        progress.show(0, f"Started {', '.join(persona_ids)} (job {job_id})")
        timeout = args.timeout or settings.job_timeout_seconds + 60
        try:
            job = await _wait(app.jobs, job_id, progress, timeout)
        except (asyncio.CancelledError, KeyboardInterrupt):
            await asyncio.shield(app.jobs.cancel(job_id))
            raise
        finally:
            progress.done()
        code = await _deliver(settings, args, job, out, err)
        if embedded:  # let the in-process worker finish the job's bookkeeping: its shutdown is then quick
            await app.jobs.released(job_id, RELEASE_WAIT_SECONDS)
        return code


async def review_command(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not settings.api_key:
        err.write(NO_API_KEY)
        return EXIT_ERROR
    persona_ids = list(dict.fromkeys(p.strip() for p in args.persona.split(",") if p.strip()))
    if not persona_ids:
        err.write("personas review: --persona names no persona; e.g. --persona security,qa.\n")
        return EXIT_ERROR
    try:
        return await _run(settings, args, persona_ids, out, err)
    except ReviewCliError as exc:
        err.write(f"personas review: {exc}\n")
        return EXIT_ERROR
    except Exception as exc:  # exit 1 means "findings": a crash must never read as that
        from mcp_server.data_dir import DataDirError

        if not isinstance(exc, DataDirError | OSError | JobRequestError | QueueUnavailableError):  # those say it all
            log.error("personas review failed", exc_info=True)
        err.write(
            f"personas review: {exc or type(exc).__name__}\nThe review did not run to the end, so nothing was "
            "decided; exit 2.\n"
        )
        return EXIT_ERROR


async def _deliver(settings: Settings, args: argparse.Namespace, job: JobState, out: TextIO, err: TextIO) -> int:
    """Print or write the report; the exit code."""
    from mcp_server.server import package_version
    from personas.report import exit_code
    from personas.report.render import render
    from personas.report.workflow_commands import neutralise_text

    report = report_from_job(job)
    text = render(report, args.format, version=package_version(), path_prefix=await _path_prefix(settings.project_root))
    if args.output is not None:
        try:
            await asyncio.to_thread(_write, args.output, text, settings.project_root)
        except ReportPathError as exc:
            err.write(f"personas review: {exc}\n")
            return EXIT_ERROR
        except OSError as exc:
            err.write(f"personas review: cannot write {args.output} ({exc.strerror or exc}); check the path.\n")
            return EXIT_ERROR
        err.write(f"personas review: wrote the {args.format} report to {args.output}\n")
    else:
        out.write(text)
        out.flush()
    failed = [m for m in report.personas if m.status != JobStatus.COMPLETE.value]
    if job.status is not JobStatus.COMPLETE or failed:
        reasons = "; ".join(f"{m.persona}: {m.error or m.status}" for m in failed) or job.error or job.status.value
        err.write(neutralise_text(f"personas review: the review did not complete ({reasons}); exit 2.\n"))
        return EXIT_ERROR
    code = exit_code(report, args.fail_on)
    if code:
        err.write(f"personas review: findings at or above '{args.fail_on}' were reported; exit 1.\n")
    return code


class ReportPathError(Exception):
    """``--output`` names a path the report is not written to; the message says why and what to do."""


def _write(path: Path, text: str, project_root: Path) -> None:
    """Write the report, never through a symlink at ``path`` nor a symlinked folder of the checkout on
    the way to it: a checked-out pull request can hold ``personas.sarif -> ~/.bashrc`` (or a later
    step's script), which the report would overwrite, or ``reports -> ~/.config/autostart``."""
    _refuse_linked_folders(path, project_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise ReportPathError(
                f"--output {path} is a symlink (to {os.readlink(path)!r}); the report is not written through it, "
                "since a checked-out change can point it at a file outside the report (a shell profile, a later "
                "step's script). Remove the link, or write the report to another path."
            ) from exc
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _refuse_linked_folders(path: Path, project_root: Path) -> None:
    """No folder between the project root and ``path`` is a symlink (a checkout can commit one; a
    folder above the project, such as macOS's /tmp, is the runner's own and may be)."""
    root, folder = project_root.absolute(), path.absolute().parent
    if not folder.is_relative_to(root):
        return
    for part in folder.relative_to(root).parts:
        root = root / part
        if root.is_symlink():
            raise ReportPathError(
                f"--output {path}: its folder {root} is a symlink (to {os.readlink(root)!r}) in the project; the "
                "report is not written through it, since a checked-out change can point it anywhere. Remove the "
                "link, or write the report to a path outside the checkout (e.g. $RUNNER_TEMP)."
            )


def main_review(settings: Settings, args: argparse.Namespace) -> int:
    if settings.log_level != "DEBUG":  # stderr carries the progress; only warnings besides it
        logging.getLogger().setLevel(logging.WARNING)
    return asyncio.run(review_command(settings, args, sys.stdout, sys.stderr))
