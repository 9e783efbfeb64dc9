"""Worker hosts keep their own standards index replica: each `personas worker` with its own data dir
writes its own index (built from the standards folders it can read) and re-indexes what the server
approves from the "standards changed" event on Redis, with no file events (watchers off) and no
shared data dir. A worker that shares the server's data dir stays a reader of the server's index."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

from mcp_server.app import open_app, open_worker_deps
from mcp_server.settings import Settings
from personas.registry import PersonaRegistry
from standards import HashingEmbedder, IndexSearcher
from standards.index.follower import FollowerIndex
from standards.index.writer import IndexWriter
from tests.conftest import wait_for

CONTENT = """## Summary
Verify every JWT's signature, issuer, audience and expiry before trusting a claim.

## The rule
1. Call `jwt.decode` with the issuer's JWKS key, `audience` and `issuer` set.
"""
QUERY = "verify JWT signature issuer audience expiry"
FILE = "security/jwt-verification.md"


async def _has_standard(index: IndexSearcher) -> bool:
    response = await index.search(QUERY, limit=10)
    return any(hit.file == FILE and hit.source == "project" for hit in response.results)


async def test_an_approval_reaches_every_worker_replica_by_the_event(
    make_settings: Callable[..., Settings], redis_url: str, tmp_path: Path
) -> None:
    server_settings = make_settings(data_dir=tmp_path / "server-data", redis_url=redis_url)
    worker_settings = [make_settings(data_dir=tmp_path / f"worker-{n}-data", redis_url=redis_url) for n in (1, 2)]
    personas = PersonaRegistry.load(server_settings.personas_dir)
    async with AsyncExitStack() as stack:
        replicas: list[IndexWriter] = []
        for settings in worker_settings:
            deps = await stack.enter_async_context(open_worker_deps(settings, watch=False, embedder=HashingEmbedder()))
            assert deps.toolbox is not None
            replica = deps.toolbox.search
            assert isinstance(replica, IndexWriter), "a worker with its own data dir writes its own replica"
            replicas.append(replica)
        app = await stack.enter_async_context(
            open_app(server_settings, personas, run_worker=False, watch=False, embedder=HashingEmbedder())
        )
        # A worker on the server's host (same data dir) does not write the server's index.
        shared = await stack.enter_async_context(
            open_worker_deps(server_settings, watch=False, embedder=HashingEmbedder())
        )
        assert shared.toolbox is not None
        assert isinstance(shared.toolbox.search, FollowerIndex) and not shared.toolbox.search.promoted
        for replica, settings in zip(replicas, worker_settings, strict=True):
            assert replica.config.index_dir == settings.index_dir
            status = await replica.wait_ready(30)
            assert status.state in ("ready", "empty"), status  # built before the approval: no reconcile finds it
            assert not await _has_standard(replica)

        pid = await app.proposals.store.create_draft(
            domain="security",
            topic="jwt-verification",
            title="Verify JWTs",
            content=CONTENT,
            rationale="Seen unverified in api/login.py",
            proposed_by="security",
        )
        result = await app.proposals.approve(pid, approved_by="alice")
        assert result.indexed and result.file == FILE

        for n, writer in enumerate(replicas, start=1):

            async def found(replica: IndexWriter = writer) -> bool:
                return await _has_standard(replica)

            await wait_for(found, timeout=15, what=f"worker {n}'s own index to serve the approved standard")
        assert not (tmp_path / "worker-1-data" / "index").samefile(tmp_path / "worker-2-data" / "index")
