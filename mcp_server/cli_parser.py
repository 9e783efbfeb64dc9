"""The ``personas`` command line's argparse tree (``mcp_server.cli`` runs what it parses)."""

from __future__ import annotations

import argparse

#: Commands that run until stopped and log at PERSONAS_LOG_LEVEL; every other command prints its
#: answer and logs warnings only, unless -v or PERSONAS_LOG_LEVEL asks for more.
LONG_RUNNING = frozenset({"serve", "worker", "desk"})

VERBOSE_HELP = "Log progress (INFO lines) on stderr; without it a command logs only warnings and errors."


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    """``-v`` on ``parser`` and every sub-command under it (``personas search x -v`` as well as
    ``personas -v search x``); SUPPRESS keeps a sub-command from resetting the top level's value."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                child.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
                _add_verbose(child)


def build_parser() -> argparse.ArgumentParser:
    from mcp_server.cli_args import VersionAction, port_number, whole_number

    parser = argparse.ArgumentParser(
        prog="personas",
        description="Specialist AI reviewers that know your team's engineering standards, over MCP.",
    )
    parser.add_argument("--version", action=VersionAction)
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="Run the MCP server (stdio by default).")
    serve.add_argument("--http", action="store_true", help="Serve streamable HTTP instead of stdio.")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default: loopback).")
    serve.add_argument("--port", type=port_number, default=8765, help="HTTP port (default: 8765).")
    serve.add_argument(
        "--remote-clients",
        action="store_true",
        help="With --http: callers send their code (files, diff) because this server cannot see their "
        "checkouts (sets PERSONAS_REMOTE_CLIENTS).",
    )
    serve.add_argument("--no-worker", action="store_true", help="Do not run an in-process worker.")
    serve.add_argument("--no-watch", action="store_true", help="Do not watch the standards dir for changes.")
    serve.add_argument(
        "--tools",
        help="Tools to offer: developer (default), reviewer, ops, all, or a comma list of profiles and tool "
        "names (overrides PERSONAS_TOOLS).",
    )

    new = sub.add_parser("new", help="Scaffold a custom persona by forking an existing one.")
    new.add_argument("id", help="The new persona's id (lowercase slug), e.g. 'accessibility'.")
    new.add_argument("--from", dest="source", default="engineer", help="Persona to fork (default: engineer).")
    new.add_argument("--name", help="Display name (default: derived from the id).")

    sub.add_parser("doctor", help="Check installation, Redis, model, index, API key and data dir.")

    index = sub.add_parser("index", help="Build the standards index from scratch, with progress.")
    index.set_defaults(command="index")

    search = sub.add_parser("search", help="Search the standards like the search_standards tool.")
    search.add_argument("query", help="What you want to know, e.g. 'rotate database credentials'.")
    search.add_argument("--domain", help="Only this domain (first-level folder).")
    search.add_argument("--limit", type=whole_number(1, 50), default=5, help="How many results (default 5, max 50).")
    search.add_argument(
        "--path",
        action="append",
        dest="paths",
        metavar="FILE",
        help="A project file you are working on (repeatable): rules scoped elsewhere are left out.",
    )
    search.add_argument("--json", action="store_true", help="Print JSON instead of text.")

    desk = sub.add_parser("desk", help="Serve the review desk web page (proposals, reviews, ops, standards).")
    desk.add_argument("--host", default="127.0.0.1", help="Bind address (default: loopback; others need a token).")
    desk.add_argument("--port", type=port_number, default=8766, help="Port (default: 8766).")
    desk.add_argument("--open", action="store_true", help="Open the page in the default browser.")

    sub.add_parser("worker", help="Run a standalone worker on REDIS_URL (scale out by starting more).")

    jobs = sub.add_parser("jobs", help="Persona jobs: list, show, cancel, stats (plain text or --json).")
    jobs_sub = jobs.add_subparsers(dest="jobs_action", required=True)
    jobs_list = jobs_sub.add_parser("list", help="Recent jobs, newest first.")
    jobs_list.add_argument("--status", choices=["pending", "running", "complete", "failed", "cancelled"])
    jobs_list.add_argument("--persona", help="Only this persona, e.g. security.")
    jobs_list.add_argument("--limit", type=whole_number(1, 100), default=20, help="How many (default 20, max 100).")
    jobs_sub.add_parser("show", help="One job: progress, result or error.").add_argument("job_id")
    jobs_sub.add_parser("cancel", help="Cancel a pending or running job.").add_argument("job_id")
    jobs_sub.add_parser("stats", help="Database health and per-persona usage.")
    for jobs_parser in jobs_sub.choices.values():
        jobs_parser.add_argument("--json", action="store_true", help="Print JSON instead of text.")

    from mcp_server.export_cli import add_export_parser
    from mcp_server.findings_cli import add_findings_parser
    from mcp_server.proposals_cli import add_standards_parser
    from mcp_server.review_cli import add_review_parser

    add_standards_parser(sub)
    add_review_parser(sub)
    add_findings_parser(sub)
    add_export_parser(sub)
    _add_verbose(parser)
    return parser
