"""AppState and the one place that opens and closes every resource of a server process."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from mcp_server.data_dir import prepare_settings_data_dir, secure_files
from mcp_server.embedded import embedded_redis
from mcp_server.roots import RootsPolicy, Workspace
from mcp_server.session_log import JobEvents
from mcp_server.settings import Settings
from mcp_server.state import AppState
from personas.registry import PersonaRegistry
from personas.runtime import LLMConfig, RunLimits, RunToolbox, SharedClient
from standards import (
    Embedder,
    HashingEmbedder,
    IndexConfig,
    IndexSearcher,
    IndexWriter,
    StandardsSource,
    universal_standards_dir,
    writer_or_reader,
)
from standards.curation.service import ProposalService
from standards.curation.store import ProposalStore
from standards.index.embedder import make_embedder as make_standards_embedder
from standards.index.follower import FollowerIndex
from worker.app import build_worker
from worker.client_code import ClientCodeOptions
from worker.dismissals import DismissalStore
from worker.queue import JobQueue, open_pool, redact
from worker.recovery import Recovery
from worker.service import JobService
from worker.standards_events import approved_lookup, publishing, replicating
from worker.store import JobStore
from worker.tasks import WorkerDeps

log = logging.getLogger(__name__)


def standards_sources(settings: Settings) -> list[StandardsSource]:
    """The project's standards, the shared (org) folders in order, the universal starters shipped with
    the package, and (unless turned off) the rule files found in the project root."""
    if settings.standards_dir.exists() and not settings.standards_dir.is_dir():  # missing is normal: not yet made
        log.warning(
            "PERSONAS_STANDARDS_DIR: %s is a file, not a folder; the project's standards are not searched. Point "
            "PERSONAS_STANDARDS_DIR at the folder holding them (one sub-folder per domain), or unset it",
            settings.standards_dir,
        )
    sources = [StandardsSource(root=settings.standards_dir, kind="project")]
    for folder in settings.shared_standards_dirs:
        if not folder.is_dir():  # a typo would leave the org's standards out without a word
            log.warning("PERSONAS_SHARED_STANDARDS_DIRS: %s is not a folder; its standards are not searched", folder)
        sources.append(StandardsSource(root=folder, kind="shared"))
    sources.append(StandardsSource(root=universal_standards_dir(), kind="universal"))
    if settings.rules_discovery:
        sources.append(StandardsSource(root=settings.project_root, kind="rules", domains=settings.rules_domains))
    return sources


def open_job_store(settings: Settings) -> AbstractAsyncContextManager[JobStore]:
    """The one way a process opens the job store from its settings."""
    return JobStore.open(settings.jobs_database, webhooks=settings.job_options().webhook_url is not None)


def open_proposal_store(settings: Settings) -> AbstractAsyncContextManager[ProposalStore]:
    return ProposalStore.open(settings.proposals_database, settings.standards_dir)


def index_config(settings: Settings) -> IndexConfig:
    """Every standards source (:func:`standards_sources`) and where the index lives."""
    return IndexConfig(
        sources=standards_sources(settings),
        index_dir=settings.index_dir,
        model_path=settings.embedding_model_path,
        counts_database=settings.database_url.get_secret_value() if settings.database_url else None,
        embedding_backend=settings.embedding_backend,
        embedding_cache_dir=settings.embedding_cache_dir if settings.embedding_cache else None,
        max_walk_files=settings.standards_max_files,
    )


def make_embedder(settings: Settings) -> Embedder:
    """The configured embedder; the real model loads lazily on first use, not here."""
    if settings.embedder == "hashing":
        return HashingEmbedder()
    return make_standards_embedder(settings.embedding_model_path, backend=settings.embedding_backend)


def run_toolbox(settings: Settings, standards: IndexSearcher, proposals: ProposalStore) -> RunToolbox:
    """What a persona run may use: the project (sandboxed), the standards, the proposal store."""
    limits = RunLimits(
        max_seconds=max(1.0, settings.job_timeout_seconds - 15), max_context_chars=settings.max_context_chars
    )
    return RunToolbox(
        project_root=settings.project_root,
        search=standards,
        proposals=proposals,
        limits=limits,
        denied_paths=(settings.data_dir,),
        standards_dir=settings.standards_dir,
        shared_dirs=tuple(settings.shared_standards_dirs),
    )


def llm_config(settings: Settings) -> LLMConfig:
    return LLMConfig(
        api_key=settings.api_key,
        base_url=settings.anthropic_base_url,
        default_model=settings.model,
        timeout_seconds=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
    )


@asynccontextmanager
async def open_app(
    settings: Settings,
    personas: PersonaRegistry,
    *,
    run_worker: bool = True,
    watch: bool = True,
    embedder: Embedder | None = None,
    roots: RootsPolicy | None = None,
) -> AsyncIterator[AppState]:
    """Open the standards index (reconciled in the background, watched unless ``watch`` is
    False), Redis (embedded when no REDIS_URL), the job store, the queue and, unless told not
    to, an in-process worker. Everything is closed in reverse order on exit."""
    await asyncio.to_thread(prepare_settings_data_dir, settings)
    async with AsyncExitStack() as stack:
        # The writer unless another process (a second server on this project) writes the index. On a
        # thread: the model's module imports numpy, and the session is being served meanwhile.
        config = index_config(settings)
        standards = await asyncio.to_thread(lambda: writer_or_reader(config, embedder or make_embedder(settings)))
        await stack.enter_async_context(started_in_background(standards, watch=watch))
        store = await stack.enter_async_context(open_job_store(settings))
        redis_url = settings.redis_url
        embedded = redis_url is None
        requeue = _Requeue(store, settings)
        if redis_url is None:
            redis_url = await stack.enter_async_context(embedded_redis(settings.data_dir, on_restart=requeue))
        pool = await stack.enter_async_context(open_pool(redis_url))
        queue = JobQueue(pool, redis_url, embedded=embedded)
        requeue.queue = queue
        dismissals = await DismissalStore.attach(store.db)
        jobs = JobService(
            store,
            queue,
            personas,
            max_context_chars=settings.max_context_chars,
            options=settings.job_options(),
            project_root=settings.project_root,
            denied_paths=(settings.data_dir,),
            max_diff_chars=settings.max_diff_chars,
            dismissals=dismissals,
            client_code=ClientCodeOptions(enabled=settings.remote_clients),
        )
        proposals = await stack.enter_async_context(open_proposal_store(settings))
        follows_root: list[Any] = [jobs]
        if run_worker:
            toolbox = run_toolbox(settings, standards, proposals)
            follows_root.append(toolbox)
            await stack.enter_async_context(in_process_worker(settings, redis_url, store, personas, toolbox))
        await asyncio.to_thread(secure_files, settings.data_dir)
        log.info("agent-personas ready: %d personas, redis %s", len(personas.ids()), redact(redis_url))
        job_events = await stack.enter_async_context(
            JobEvents.running(jobs, max_seconds=settings.job_timeout_seconds * settings.job_max_attempts + 120)
        )
        workspace = await stack.enter_async_context(
            Workspace.running(
                settings.project_root, explicit=settings.project_root_given, targets=follows_root, policy=roots
            )
        )
        yield AppState(
            settings=settings,
            personas=personas,
            jobs=jobs,
            standards=standards,
            redis_url=redis_url,
            dismissals=dismissals,
            proposals=ProposalService(
                proposals,
                settings.standards_dir,
                revisions=jobs,
                reindex=publishing(standards.reindex_paths, pool, settings.standards_dir),
                shared_dir=settings.shared_approval_dir,
                shared_writable=settings.shared_standards_writable,
            ),
            job_events=job_events,
            workspace=workspace,
        )


class _Requeue:
    """After the embedded Redis restarted (empty): put the pending jobs back on the queue at once."""

    def __init__(self, store: JobStore, settings: Settings) -> None:
        self.store = store
        self.options = settings.job_options()
        self.queue: JobQueue | None = None

    async def __call__(self) -> None:
        if self.queue is not None:
            recovery = Recovery(self.store, self.queue, self.options, redis=self.queue.pool)
            count = await recovery.requeue_orphans(0)
            log.info("embedded Redis restarted: %d pending job(s) enqueued again", count)


@asynccontextmanager
async def started_in_background(standards: IndexSearcher, *, watch: bool) -> AsyncIterator[None]:
    """Open the index without delaying the server: LanceDB and the model load off the startup
    path (search answers from the start-up copy of cached vectors meanwhile, else "building"), and
    the index stops with the server."""

    async def start() -> None:
        try:
            # A new project's first searches need no LanceDB (standards.index.bootstrap): its import
            # waits for the start-up copy's first answer (bounded), not to take the CPU it needs.
            await standards.prepare()
            if isinstance(standards, IndexWriter):
                await standards.startup_answered()
            # Import LanceDB (~1 s) on a thread so the event loop keeps answering meanwhile.
            await asyncio.to_thread(importlib.import_module, "lancedb")
            await standards.start(watch=watch)
        except Exception as exc:
            log.exception("the standards index failed to start; search_standards will report it")
            if isinstance(standards, IndexWriter):
                standards.start_failed(exc)
            raise

    task = asyncio.create_task(start(), name="standards-start")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await standards.stop()


@asynccontextmanager
async def in_process_worker(
    settings: Settings, redis_url: str, store: JobStore, personas: PersonaRegistry, toolbox: RunToolbox
) -> AsyncIterator[None]:
    async with worker_deps(settings, store, personas, toolbox) as deps:
        worker = build_worker(
            redis_url,
            deps,
            concurrency=settings.worker_concurrency,
            poll_interval=settings.queue_poll_interval,
            embedded=settings.redis_url is None,
        )
        task = asyncio.create_task(worker.async_run(), name="arq-worker")
        try:
            yield
        finally:
            await worker.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def worker_deps(
    settings: Settings, store: JobStore, personas: PersonaRegistry, toolbox: RunToolbox
) -> AsyncIterator[WorkerDeps]:
    """What every worker (in-process or standalone) runs jobs with; closes its Anthropic client."""
    llm = llm_config(settings)
    client = SharedClient(llm)
    try:
        dismissals = await DismissalStore.attach(store.db)
        yield WorkerDeps(
            store=store,
            personas=personas,
            llm=llm,
            job_timeout_seconds=settings.job_timeout_seconds,
            options=settings.job_options(),
            toolbox=toolbox,
            client=client,
            dismissals=dismissals,
        )
    finally:
        await client.aclose()


@asynccontextmanager
async def open_worker_deps(
    settings: Settings, *, watch: bool = True, embedder: Embedder | None = None
) -> AsyncIterator[WorkerDeps]:
    """Resources of a standalone worker: the job and proposal stores, and the standards index in
    its own data dir. With no other process writing that folder (a worker host of its own) the
    worker keeps its own replica: built from the standards folders it can read, kept fresh by its
    watcher (unless ``watch`` is False) and by the "standards changed" events on Redis, with the
    approved content from the database standing in for files this host cannot read yet. When
    another process on this host writes the folder (a shared data dir), it searches it read-only."""
    personas = PersonaRegistry.load(settings.personas_dir, claude_root=settings.claude_agents_root)
    await asyncio.to_thread(prepare_settings_data_dir, settings)
    async with AsyncExitStack() as stack:
        proposals = await stack.enter_async_context(open_proposal_store(settings))
        # Approved standards whose files this host cannot read yet are served from the database.
        stored = approved_lookup(proposals)
        standards = writer_or_reader(index_config(settings), embedder or make_embedder(settings), stored=stored)

        def writes() -> bool:
            return not isinstance(standards, FollowerIndex) or standards.promoted

        await stack.enter_async_context(started_in_background(standards, watch=watch))
        if settings.redis_url is not None:
            redis = await stack.enter_async_context(Redis.from_url(settings.redis_url))
            await stack.enter_async_context(replicating(standards, redis, settings.standards_dir, writes=writes))
        store = await stack.enter_async_context(open_job_store(settings))
        toolbox = run_toolbox(settings, standards, proposals)
        yield await stack.enter_async_context(worker_deps(settings, store, personas, toolbox))
