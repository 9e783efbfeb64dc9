"""Worker hosts keep their own standards index replica: each `personas worker` with its own data dir
writes its own index (built from the standards folders it can read) and re-indexes what the server
approves from the "standards changed" event on Redis, with no file events (watchers off) and no
shared data dir. A worker that shares the server's data dir stays a reader of the server's index.
A worker whose standards folder does not have the approved file yet serves the approved content
from the database until the file arrives, then the file."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

from mcp_server.app import open_app, open_worker_deps
from mcp_server.settings import Settings
from personas.registry import PersonaRegistry
from standards import HashingEmbedder, IndexSearcher
from standards.curation.publish import content_hash
from standards.index.follower import FollowerIndex
from standards.index.models import StandardsSource
from standards.index.stored import StoredStandard, absent
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

            await wait_for(found, timeout=60, what=f"worker {n}'s own index to serve the approved standard")
        assert not (tmp_path / "worker-1-data" / "index").samefile(tmp_path / "worker-2-data" / "index")


async def _hits(index: IndexSearcher, query: str = QUERY) -> list[str]:
    """The text of every chunk of FILE a search returns."""
    response = await index.search(query, limit=50)
    return [hit.text for hit in response.results if hit.file == FILE and hit.source == "project"]


async def _replica(stack: AsyncExitStack, settings: Settings, *, watch: bool) -> IndexWriter:
    deps = await stack.enter_async_context(open_worker_deps(settings, watch=watch, embedder=HashingEmbedder()))
    assert deps.toolbox is not None
    replica = deps.toolbox.search
    assert isinstance(replica, IndexWriter)
    status = await replica.wait_ready(30)
    assert status.state in ("ready", "empty"), status
    return replica


async def test_a_replica_without_the_file_serves_the_approved_content_from_the_database_until_it_arrives(
    make_settings: Callable[..., Settings], redis_url: str, postgres_database: str, tmp_path: Path
) -> None:
    lagging = tmp_path / "lagging-checkout"  # another host's checkout of the repo, not pulled yet
    lagging.mkdir()
    shared = {"redis_url": redis_url, "database_url": postgres_database}
    server_settings = make_settings(data_dir=tmp_path / "server-data", **shared)
    seeing_settings = make_settings(data_dir=tmp_path / "worker-1-data", **shared)
    blind_settings = make_settings(project_root=lagging, data_dir=tmp_path / "worker-2-data", **shared)
    assert blind_settings.standards_dir != server_settings.standards_dir
    personas = PersonaRegistry.load(server_settings.personas_dir)
    async with AsyncExitStack() as stack:
        seeing = await _replica(stack, seeing_settings, watch=False)
        blind = await _replica(stack, blind_settings, watch=True)  # its watcher sees the checkout's pull
        app = await stack.enter_async_context(
            open_app(server_settings, personas, run_worker=False, watch=False, embedder=HashingEmbedder())
        )
        await app.standards.wait_ready(30)
        pid = await app.proposals.store.create_draft(
            domain="security",
            topic="jwt-verification",
            title="Verify JWTs",
            content=CONTENT,
            rationale="Seen unverified in api/login.py",
            proposed_by="security",
        )
        result = await app.proposals.approve(pid, approved_by="alice")
        written = Path(result.path)
        assert written.is_file() and not (blind_settings.standards_dir / FILE).exists()

        for name, replica in (("the worker that sees the file", seeing), ("the worker without it", blind)):

            async def serves(index: IndexWriter = replica) -> bool:
                return any("jwt.decode" in text for text in await _hits(index))

            await wait_for(serves, timeout=60, what=f"{name} to serve the approved standard")
        assert not (blind_settings.standards_dir / FILE).exists()

        # A replica started after the approval (it missed the event) serves it too, from its reconcile.
        async with AsyncExitStack() as later:
            late_settings = make_settings(project_root=lagging, data_dir=tmp_path / "worker-3-data", **shared)
            late = await _replica(later, late_settings, watch=False)
            assert any("jwt.decode" in text for text in await _hits(late))

        # The checkout pulls: the file (edited on the server's host since) arrives and replaces the
        # stand-in, chunk for chunk: the blind replica ends up with exactly the server's chunks.
        pulled = written.read_text() + "\n## Service accounts\n\nService tokens come from the zebra-quokka vault.\n"
        written.write_text(pulled)
        await app.standards.reindex_paths([written])
        (blind_settings.standards_dir / "security").mkdir(parents=True)
        (blind_settings.standards_dir / FILE).write_text(pulled)

        async def pulled_in() -> bool:
            return any("zebra-quokka" in text for text in await _hits(blind, "service tokens zebra-quokka vault"))

        await wait_for(pulled_in, timeout=60, what="the pulled file to replace the database's copy")

        async def same_chunks() -> bool:
            return blind.status().chunks == app.standards.status().chunks

        await wait_for(same_chunks, timeout=60, what="the replica to hold the file's chunks only")
        assert sorted(await _hits(blind)) == sorted(await _hits(app.standards))


def test_a_stored_update_stands_in_only_for_a_missing_file_or_the_version_it_replaced(tmp_path: Path) -> None:
    root = tmp_path / "standards"
    (root / "security").mkdir(parents=True)
    old, newer = b"# JWT\n\nv1\n", b"# JWT\n\nv3, edited by hand\n"
    sources = [StandardsSource(root=root, kind="project")]

    def stand_in(file: str, *, replaces: str | None = None, source: str = "project") -> list[str]:
        found = absent(sources, [StoredStandard(source=source, file=file, text="# JWT\n\nv2\n", replaces=replaces)])
        return [sf.key for sf, _ in found]

    assert stand_in("security/jwt.md") == ["project:security/jwt.md"]  # no file here yet
    (root / "security" / "jwt.md").write_bytes(old)
    assert stand_in("security/jwt.md") == []  # a new standard whose file is here: the file wins
    assert stand_in("security/jwt.md", replaces=content_hash(old)) == ["project:security/jwt.md"]  # still v1 here
    (root / "security" / "jwt.md").write_bytes(newer)
    assert stand_in("security/jwt.md", replaces=content_hash(old)) == []  # moved on past the update: the file
    assert stand_in("security/other.md", source="shared") == []  # no shared folder on this host
    for unsafe in ("../escape.md", "/etc/passwd.md", "security/.hidden.md", "security/notes.txt", ""):
        assert stand_in(unsafe) == [], unsafe
