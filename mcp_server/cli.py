"""The ``personas`` command: serve, worker. Logs go to stderr; stdout belongs to the protocol."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mcp_server.cli_parser import build_parser
from mcp_server.stopping import run_until_signal

if TYPE_CHECKING:
    from mcp_server.settings import Settings

log = logging.getLogger("personas")

#: What a second stop signal does not wait for (mcp_server.stopping), as the log line says it.
UNFINISHED_SERVER = (
    "requests in flight and the resources to close (jobs it was running run again once their lease "
    "lapses, PERSONAS_JOB_LEASE_SECONDS; the kernel stops an embedded Redis)"
)
UNFINISHED_WORKER = (
    "running jobs to be handed back (they run again once their lease lapses, PERSONAS_JOB_LEASE_SECONDS)"
)


def main(argv: Sequence[str] | None = None) -> int:
    # Start-up makes ~200k objects that live as long as the process (modules, settings, tool
    # schemas); the cyclic collector would scan them again and again while they are made (~15-20 %
    # of a server's start, measured). Paused until they are made: `serve` and `worker` freeze them
    # once started (they are never scanned again), every other command runs with it on.
    gc.disable()
    try:
        args = build_parser().parse_args(argv)
        if args.command == "serve":  # stdout is the MCP channel: JSON-RPC, which escapes controls itself
            return _main(args)
        from standards.control_chars import terminal_safe

        # Everything else prints for a person at a terminal: text from files, proposals and jobs may
        # hold escape sequences that would hide or rewrite lines, so every byte goes out escaped.
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = terminal_safe(sys.stdout), terminal_safe(sys.stderr)
        try:
            return _main(args)
        finally:
            sys.stdout, sys.stderr = saved
    finally:
        gc.enable()


def _main(args: argparse.Namespace) -> int:
    from mcp_server.log_setup import configure_logging
    from mcp_server.settings_load import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.stderr.write(f"personas: {exc}\n")
        return 2
    configure_logging(_log_level(settings, args))
    if args.command not in ("serve", "worker"):
        gc.enable()
    if args.command in ("worker", "jobs", "index", "standards", "search", "findings", "review", "desk"):
        # `serve` stays up and answers the problem on every tool; these print it and stop.
        from mcp_server.data_dir import DataDirError, prepare_settings_data_dir

        try:
            prepare_settings_data_dir(settings)
        except DataDirError as exc:
            sys.stderr.write(f"personas {args.command}: {exc}\n")
            return 2
    try:
        if args.command == "serve":
            return _serve_command(settings, args)
        if args.command == "new":
            return _new_persona(settings, args.id, args.source, args.name)
        if args.command == "doctor":
            from mcp_server.doctor import run_doctor

            return asyncio.run(run_doctor(settings, sys.stdout))
        if args.command == "index":
            from mcp_server.app import index_config, make_embedder
            from standards.index.commands import index_command

            return asyncio.run(index_command(index_config(settings), out=sys.stdout, embedder=make_embedder(settings)))
        if args.command == "search":
            from mcp_server.app import index_config, make_embedder
            from standards.index.commands import search_command

            return asyncio.run(
                search_command(
                    index_config(settings),
                    args.query,
                    domain=args.domain,
                    limit=args.limit,
                    as_json=args.json,
                    out=sys.stdout,
                    paths=args.paths,
                    embedder=make_embedder(settings),
                )
            )
        if args.command == "desk":
            return asyncio.run(_desk(settings, host=args.host, port=args.port, open_browser=args.open))
        if args.command == "worker":
            return asyncio.run(_worker(settings))
        if args.command == "jobs":
            return asyncio.run(_jobs(settings, args))
        if args.command == "findings":
            from mcp_server.findings_cli import findings_cli

            return findings_cli(settings, args, sys.stdout, sys.stderr)
        if args.command == "review":
            from mcp_server.review_cli import main_review

            return main_review(settings, args)
        if args.command == "export":
            from mcp_server.export_cli import export_command

            return export_command(settings, args, sys.stdout, sys.stderr)
        if args.command == "standards":
            from mcp_server.proposals_cli import standards_cli

            return asyncio.run(standards_cli(settings, args, sys.stdout, sys.stderr))
    except KeyboardInterrupt:
        sys.stderr.write(f"personas {args.command}: interrupted (Ctrl-C). {INTERRUPTED.get(args.command, '')}".rstrip())
        sys.stderr.write("\n")
        return 130
    except _store_errors() as exc:  # called only when an exception gets here: a start never imports aiosqlite
        sys.stderr.write(f"personas {args.command}: {exc}\n")
        return 2
    return 2


def _store_errors() -> tuple[type[Exception], ...]:
    from standards.db import StoreError
    from standards.sqlite import DatabaseUnusableError  # the SQLite opener

    return DatabaseUnusableError, StoreError


#: What an interrupted command left, said after "interrupted (Ctrl-C)".
INTERRUPTED = {
    "index": "Nothing is lost: the index keeps what it had and what was indexed so far; run personas index again "
    "to finish the rebuild (a server start or personas search also brings the index up to date).",
    "search": "Nothing was changed; the index is brought up to date by the next search or server start.",
}


def _log_level(settings: Settings, args: argparse.Namespace) -> str:
    """serve, worker and desk log at PERSONAS_LOG_LEVEL; a one-shot command (search, index, jobs, …)
    prints its answer and logs warnings only, unless -v or an explicit PERSONAS_LOG_LEVEL asks for more."""
    import os

    from mcp_server.cli_parser import LONG_RUNNING

    if getattr(args, "verbose", False):
        return "DEBUG" if settings.log_level == "DEBUG" else "INFO"
    if args.command in LONG_RUNNING or "PERSONAS_LOG_LEVEL" in os.environ:
        return settings.log_level
    return "WARNING"


def _serve_command(settings: Settings, args: argparse.Namespace) -> int:
    """``personas serve``: its options folded into the settings, then the server until it stops."""
    if args.tools is not None:
        settings = settings.model_copy(update={"tools": args.tools})
    if args.remote_clients:
        if not args.http:
            sys.stderr.write(
                "personas serve: --remote-clients needs --http (a stdio server runs in the caller's "
                "checkout and reads it from disk).\n"
            )
            return 2
        settings = settings.model_copy(update={"remote_clients": True})
    elif settings.remote_clients and not args.http:
        sys.stderr.write(
            "personas serve: PERSONAS_REMOTE_CLIENTS=true needs --http: a stdio server runs in the caller's "
            "checkout and reads it from disk, so callers never send files or a diff. Unset "
            "PERSONAS_REMOTE_CLIENTS for a stdio server (or run personas serve --http --remote-clients).\n"
        )
        return 2
    return asyncio.run(
        _serve(
            settings,
            http=args.http,
            host=args.host,
            port=args.port,
            worker=not args.no_worker,
            watch=not args.no_watch,
        )
    )


def _new_persona(settings: Settings, new_id: str, source: str, name: str | None) -> int:
    from personas.registry import PersonaRegistry, UnknownPersonaError
    from personas.scaffold import scaffold_persona

    registry = PersonaRegistry.load(settings.personas_dir, claude_root=settings.claude_agents_root)
    try:
        path = scaffold_persona(new_id, registry.get(source), settings.personas_dir, name=name)
    except (UnknownPersonaError, ValueError, FileExistsError) as exc:
        sys.stderr.write(f"personas new: {exc}\n")
        return 2
    sys.stderr.write(
        f"Created {path}. Edit its description, domains and prompt; restart the server to get invoke_{new_id}.\n"
    )
    return 0


async def _serve(settings: Settings, *, http: bool, host: str, port: int, worker: bool, watch: bool) -> int:
    from mcp_server.collector import freeze_startup_objects
    from mcp_server.desk.state import StateRef
    from mcp_server.server import build_server
    from mcp_server.tools.profiles import ToolSelectionError

    closed = asyncio.Event()
    desk = StateRef() if http else None
    try:
        server = build_server(
            settings,
            run_worker=worker,
            watch=watch,
            on_closed=closed.set,
            state_ref=desk,
            http_host=host if http else None,
        )
    except ToolSelectionError as exc:
        sys.stderr.write(f"personas serve: {exc}\n")
        return 2
    freeze_startup_objects()  # what start-up built lives as long as the process (mcp_server.collector)
    stop: asyncio.Event | None = None
    not_bound: tuple[type[Exception], ...] = ()  # stdio binds nothing (and never imports the HTTP transport)
    if http:
        from mcp_server.http import BindError, HttpConfigError, check_bind, serve_http

        not_bound = (BindError,)
        token = settings.http_token.get_secret_value() if settings.http_token else None
        try:
            check_bind(host, token)
        except HttpConfigError as exc:
            sys.stderr.write(f"personas serve: {exc}\n")
            return 2
        stop = asyncio.Event()  # uvicorn shuts down gracefully: its lifespan closes the resources
        coro = serve_http(
            server, host=host, port=port, token=token, desk=desk, remote_clients=settings.remote_clients, stop=stop
        )
    else:
        coro = server.run_stdio_async()
    try:
        await run_until_signal(
            asyncio.create_task(coro, name="mcp-server"),
            command="personas serve",
            unfinished=UNFINISHED_SERVER,
            closed=closed,
            stop=stop,
        )
    except not_bound as exc:
        sys.stderr.write(f"personas serve: {exc}\n")
        return 2
    return 0


async def _desk(settings: Settings, *, host: str, port: int, open_browser: bool) -> int:
    from mcp_server.desk.serve import run_desk
    from mcp_server.http import BindError, HttpConfigError, check_bind

    token = settings.http_token.get_secret_value() if settings.http_token else None
    try:
        check_bind(host, token)
    except HttpConfigError as exc:
        sys.stderr.write(f"personas desk: {exc}\n")
        return 2
    stop = asyncio.Event()  # the desk shuts down like `serve --http`: uvicorn asked to exit, then the state closes
    try:
        await run_until_signal(
            asyncio.create_task(
                run_desk(settings, host=host, port=port, open_browser=open_browser, stop=stop), name="desk"
            ),
            command="personas desk",
            unfinished=UNFINISHED_SERVER,
            stop=stop,
        )
    except BindError as exc:
        sys.stderr.write(f"personas desk: {exc}\n")
        return 2
    return 0


async def _jobs(settings: Settings, args: argparse.Namespace) -> int:
    from personas.registry import PersonaRegistry
    from worker.commands import jobs_command

    return await jobs_command(
        args.jobs_action,
        db_path=settings.jobs_database,
        data_dir=settings.data_dir,
        redis_url=settings.redis_url,
        personas=PersonaRegistry.load(settings.personas_dir, claude_root=settings.claude_agents_root),
        options=settings.job_options(),
        out=sys.stdout,
        err=sys.stderr,
        job_id=getattr(args, "job_id", None),
        status=getattr(args, "status", None),
        persona=getattr(args, "persona", None),
        limit=getattr(args, "limit", 20),
        as_json=args.json,
    )


async def _worker(settings: Settings) -> int:
    from mcp_server.app import open_worker_deps
    from mcp_server.collector import freeze_startup_objects
    from worker.app import build_worker

    if settings.redis_url is None:
        sys.stderr.write(
            "personas worker: REDIS_URL is not set. A standalone worker serves a shared Redis: "
            "export REDIS_URL=redis://host:6379/0 (the embedded default needs no separate worker).\n"
        )
        return 2
    from redis.exceptions import RedisError

    from worker.queue import describe_redis

    async with contextlib.AsyncExitStack() as stack:
        try:
            deps = await stack.enter_async_context(open_worker_deps(settings))
        except (OSError, RedisError) as exc:  # Redis down at start: say so (later outages are ridden out)
            sys.stderr.write(
                f"personas worker: cannot reach Redis at {describe_redis(settings.redis_url)} ({exc}). "
                "Start Redis there or fix REDIS_URL, then start the worker again.\n"
            )
            return 2
        worker = build_worker(
            settings.redis_url,
            deps,
            concurrency=settings.worker_concurrency,
            poll_interval=settings.queue_poll_interval,
        )
        # Persona jobs search the index too: what start-up built stays out of full collections, as in
        # `serve` (without it, a ~90 ms pause every few hundred searches).
        freeze_startup_objects()
        await run_until_signal(
            asyncio.create_task(worker.async_run(), name="arq-worker"),
            command="personas worker",
            unfinished=UNFINISHED_WORKER,
        )
        await worker.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
