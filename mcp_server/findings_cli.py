"""``personas findings dismiss|list|restore``: the team's dismissed findings from a shell.

They open the job database directly (the job's findings and the dismissals table); later runs of
the persona, on any server or worker sharing the database, drop dismissed findings.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
from typing import Any, TextIO

from mcp_server.cli_args import whole_number
from mcp_server.settings import Settings
from worker.dismissals import DismissalStore, dismiss
from worker.models import iso_utc


def add_findings_parser(sub: Any) -> None:
    parser = sub.add_parser("findings", help="Dismissed findings: dismiss, list, restore.")
    actions = parser.add_subparsers(dest="findings_action", required=True)
    dismissing = actions.add_parser("dismiss", help="Dismiss a job's finding; later runs drop it.")
    dismissing.add_argument("job_id")
    dismissing.add_argument("finding_id", help="The finding's id (shown in every report).")
    dismissing.add_argument("--reason", required=True, help="Why it does not apply (the persona is told).")
    dismissing.add_argument("--by", help="Who dismisses it (default: your login name).")
    listing = actions.add_parser("list", help="Dismissed findings, newest first.")
    listing.add_argument("--persona", help="Only this persona's.")
    listing.add_argument("--limit", type=whole_number(1, 500), default=50, help="How many (default 50, max 500).")
    actions.add_parser("restore", help="Undo a dismissal: the finding is reported again.").add_argument(
        "fingerprint", help="The dismissed finding id (personas findings list shows them)."
    )
    for action in actions.choices.values():
        action.add_argument("--json", action="store_true", help="Print JSON instead of text.")


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


async def findings_command(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mcp_server.app import open_job_store

    action = args.findings_action
    async with open_job_store(settings) as store:
        dismissals = await DismissalStore.attach(store.db)
        if action == "list":
            rows = await dismissals.listed(persona=args.persona, limit=args.limit)
            if args.json:
                out.write(json.dumps([r.model_dump() for r in rows], indent=2) + "\n")
            elif not rows:
                out.write("No dismissed findings.\n")
            for r in [] if args.json else rows:
                where = f" ({r.file})" if r.file else ""
                out.write(
                    f"{r.fingerprint}  {r.persona}  {r.title}{where}\n    {iso_utc(r.dismissed_at)} by "
                    f"{r.dismissed_by}: {r.reason}\n"
                )
            return 0
        if action == "restore":
            restored = await dismissals.restore(args.fingerprint.strip())
            if args.json:
                out.write(json.dumps({"fingerprint": args.fingerprint, "restored": restored}) + "\n")
            if not restored:
                err.write(
                    f"personas findings restore: {args.fingerprint!r} is not dismissed (see personas findings list).\n"
                )
                return 2
            if not args.json:
                out.write(f"Restored {args.fingerprint}: later runs report it again.\n")
            return 0
        job = await store.get(args.job_id.strip())
        if job is None:
            err.write(f"personas findings dismiss: no job with id {args.job_id!r} (personas jobs list shows them).\n")
            return 2
        try:
            result = await dismiss(
                dismissals, job.id, job.findings, finding_id=args.finding_id, reason=args.reason, by=args.by or _login()
            )
        except (LookupError, ValueError) as exc:
            err.write(f"personas findings dismiss: {exc}\n")
            return 2
        out.write(result.model_dump_json(indent=2) + "\n" if args.json else result.message + "\n")
        return 0


def findings_cli(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return asyncio.run(findings_command(settings, args, out, err))
