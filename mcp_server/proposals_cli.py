"""``personas standards list|show|approve|reject|request-changes|add``: the approval tools from a shell.

They open the proposal database directly and write into the project's standards folder. A running
server's watcher indexes what they write within a second (otherwise the next start does); with
REDIS_URL set (a team deployment) an approval is also announced to the workers' index replicas.
``request-changes`` queues a revision job, so it needs the Redis the workers use: REDIS_URL, else
the running server's embedded Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import BaseModel

from mcp_server.cli_args import whole_number
from mcp_server.settings import Settings
from standards.curation.models import ProposalError, UnknownProposalError
from worker.errors import JobRequestError, QueueUnavailableError

if TYPE_CHECKING:
    from standards.curation.service import ProposalService

STATUSES = ["open", "all", "draft", "changes_requested", "approved", "rejected"]
INDEX_NOTE = "A running server indexes it within a second; otherwise it is indexed when the server next starts.\n"


def add_standards_parser(sub: Any) -> None:
    """Register the ``standards`` command group on the top-level subparsers."""
    parser = sub.add_parser("standards", help="Proposed standards: list, show, approve, reject, request-changes, add.")
    actions = parser.add_subparsers(dest="standards_action", required=True)
    listing = actions.add_parser("list", help="Proposals, most recently changed first.")
    listing.add_argument("--status", choices=STATUSES, default="open", help="Which (default: open).")
    listing.add_argument("--domain", help="Only this domain.")
    listing.add_argument("--limit", type=whole_number(1, 200), default=50, help="How many (default 50, max 200).")
    actions.add_parser("show", help="One proposal: content, and the diff of an update.").add_argument("proposal_id")
    approve = actions.add_parser("approve", help="Write the standard and mark the proposal approved.")
    approve.add_argument("proposal_id")
    approve.add_argument("--approved-by", help="Your name (default: your login name).")
    approve.add_argument("--edits", type=Path, help="A Markdown file to write instead of the proposed content.")
    approve.add_argument(
        "--target",
        choices=["project", "shared"],
        default="project",
        help="Write to the project's standards (default) or the first shared folder "
        "(needs PERSONAS_SHARED_STANDARDS_WRITABLE=true).",
    )
    reject = actions.add_parser("reject", help="Reject a proposal (nothing is written).")
    reject.add_argument("proposal_id")
    reject.add_argument("--feedback", required=True, help="Why.")
    changes = actions.add_parser("request-changes", help="Send it back to its persona with feedback.")
    changes.add_argument("proposal_id")
    changes.add_argument("--feedback", required=True, help="What to change.")
    changes.add_argument("--priority", choices=["low", "normal", "high"], default="normal")
    add = actions.add_parser("add", help="Import a Markdown or text document as a standard.")
    add.add_argument("file", type=Path, help="The .md, .markdown or .txt file (at most 1 MB).")
    add.add_argument("--domain", required=True, help="Domain folder, e.g. security.")
    add.add_argument("--topic", help="File name slug (default: derived from the file name).")
    add.add_argument("--title", help="Title (default: front matter title, first heading, or the topic).")
    add.add_argument("--approved-by", help="Your name (default: your login name).")
    for action in actions.choices.values():
        action.add_argument("--json", action="store_true", help="Print JSON instead of text.")


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "human reviewer"


@asynccontextmanager
async def _revision_queue(settings: Settings) -> AsyncIterator[Any]:
    """A JobService on the Redis the workers use, or None when none can be found."""
    from mcp_server.app import open_job_store
    from personas.registry import PersonaRegistry
    from worker.commands import find_redis
    from worker.queue import JobQueue, make_pool
    from worker.service import JobService

    redis_url = await find_redis(settings.redis_url, settings.data_dir)
    if redis_url is None:
        yield None
        return
    async with open_job_store(settings) as store:
        pool = make_pool(redis_url)
        try:
            yield JobService(
                store,
                JobQueue(pool, redis_url),
                PersonaRegistry.load(settings.personas_dir, claude_root=settings.claude_agents_root),
                max_context_chars=settings.max_context_chars,
                options=settings.job_options(),
            )
        finally:
            await pool.aclose()


async def standards_cli(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # The proposal store and its secret scanner load here, not with the parser (every command builds it).
    from standards.curation.importing import import_document
    from standards.curation.service import ProposalService

    action: str = args.standards_action
    try:
        if action == "add":
            result = await asyncio.to_thread(
                import_document,
                args.file,
                settings.standards_dir,
                domain=args.domain,
                topic=args.topic,
                title=args.title,
                approved_by=args.approved_by or _login(),
            )
            _emit(result, args.json, out, result.message + "\n" + INDEX_NOTE)
            return 0
        from mcp_server.app import open_proposal_store

        async with open_proposal_store(settings) as store:
            if action == "request-changes":
                async with _revision_queue(settings) as queue:
                    if queue is None:
                        err.write(
                            "personas standards request-changes: no Redis found. The revision runs as a persona "
                            "job: start the server (personas serve) or set REDIS_URL to the workers' Redis.\n"
                        )
                        return 2
                    service = ProposalService(store, settings.standards_dir, revisions=queue)
                    decided = await service.request_changes(args.proposal_id, args.feedback, args.priority)
                    _emit(decided, args.json, out, decided.message + "\n")
                    return 0
            service = ProposalService(
                store,
                settings.standards_dir,
                shared_dir=settings.shared_approval_dir,
                shared_writable=settings.shared_standards_writable,
            )
            return await _run(service, action, args, out, settings)
    except (UnknownProposalError, ProposalError, ValueError, OSError, JobRequestError, QueueUnavailableError) as exc:
        err.write(f"personas standards {action}: {exc}\n")
        return 2


async def _announce(settings: Settings, path: Path) -> None:
    """Tell the other hosts' index replicas (REDIS_URL: a team deployment) that a standard changed."""
    if settings.redis_url is None:
        return
    from redis.asyncio import Redis

    from worker.standards_events import publish_changed

    async with Redis.from_url(settings.redis_url) as redis:
        await publish_changed(redis, [path], root=settings.standards_dir)


async def _run(service: ProposalService, action: str, args: argparse.Namespace, out: TextIO, settings: Settings) -> int:
    if action == "list":
        listing = await service.list_proposals(args.status, args.domain, args.limit)
        if args.json:
            _emit(listing, True, out, "")
            return 0
        rows = [["ID", "STATUS", "V", "ACTION", "FILE", "BY", "UPDATED (UTC)", "TITLE"]]
        rows += [
            [
                p.id,
                p.status,
                str(p.version),
                p.action,
                p.file,
                p.proposed_by,
                (p.updated_at or "")[:19].replace("T", " "),
                p.title[:50],
            ]
            for p in listing.proposals
        ]
        if listing.proposals:
            _table(rows, out)
        out.write(("\n" if listing.proposals else "") + listing.message + "\n")
        return 0
    if action == "show":
        detail = await service.show(args.proposal_id)
        if args.json:
            _emit(detail, True, out, "")
            return 0
        _table(
            [
                ["id", detail.id],
                ["status", f"{detail.status} (version {detail.version})"],
                ["file", f"{detail.file} ({detail.action})"],
                ["proposed by", detail.proposed_by],
                ["rationale", detail.rationale],
                *([["feedback", detail.feedback]] if detail.feedback else []),
                *([["approved by", detail.approved_by]] if detail.approved_by else []),
            ],
            out,
        )
        out.write("\n" + (detail.diff or detail.content).rstrip() + "\n\n")
        out.write("\n".join(f"! {b}" for b in detail.blockers) + ("\n" if detail.blockers else ""))
        steps = detail.next_steps
        if detail.status == "draft" and not detail.blockers:  # the service's text tells an assistant which tools
            pid = detail.id
            steps = (
                f"Decide with: personas standards approve {pid} [--edits FILE], personas standards "
                f"request-changes {pid} --feedback TEXT, or personas standards reject {pid} --feedback TEXT."
            )
        out.write(steps + "\n")
        return 0
    if action == "approve":
        edits = await asyncio.to_thread(_read_edits, args.edits) if args.edits else None
        approved = await service.approve(
            args.proposal_id, approved_by=args.approved_by or _login(), edits=edits, target=args.target
        )
        await _announce(settings, Path(approved.path))
        _emit(approved, args.json, out, approved.message + "\n")
        return 0
    if action == "reject":
        rejected = await service.reject(args.proposal_id, args.feedback)
        _emit(rejected, args.json, out, rejected.message + "\n")
        return 0
    raise ValueError(f"unknown action {action!r}")


def _read_edits(path: Path) -> str:
    """The --edits file as text, read up to the content cap (``--edits /dev/zero`` or a huge log must
    not fill memory); errors name the file."""
    from standards.curation.store import MAX_CONTENT_CHARS

    limit = MAX_CONTENT_CHARS * 4  # UTF-8 bytes of the longest accepted content
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ValueError(f"--edits {path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise ValueError(
            f"--edits {path}: larger than {limit:,} bytes; a standard holds at most {MAX_CONTENT_CHARS:,} characters"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"--edits {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _emit(model: BaseModel, as_json: bool, out: TextIO, text: str) -> None:
    out.write(model.model_dump_json(indent=2) + "\n" if as_json else text)


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")
