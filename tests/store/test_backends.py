"""The system of record on both backends (``database`` runs each test on SQLite and PostgreSQL):
guarded transitions under concurrent writers, immutable terminal jobs and decided proposals in the
database itself, conversations deleted with their jobs, the quota, versioned migrations."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import pytest

from personas.runtime import ProgressUpdate
from standards.curation.models import ApprovalTarget
from standards.curation.store import ProposalStore
from tests.proposals.conftest import DRAFT
from worker.models import JobFinish, JobState, JobStatus
from worker.ops import database_stats
from worker.options import JobOptions
from worker.retention import DAY, apply_retention
from worker.store import JobStore

REFUSED = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)
WRITERS = 4


async def _stores(stack: AsyncExitStack, database: Path | str, n: int = WRITERS) -> list[JobStore]:
    """``n`` stores on the same database, each with its own connection(s), like separate processes."""
    return [await stack.enter_async_context(JobStore.open(database)) for _ in range(n)]


@pytest.fixture
async def store(database: Path | str) -> AsyncIterator[JobStore]:
    async with JobStore.open(database) as opened:
        yield opened


async def test_lifecycle_and_terminal_jobs_are_final_in_the_database(store: JobStore) -> None:
    job = JobState(persona="qa", task="review tests")
    assert await store.insert(job)
    running = await store.claim(job.id, owner="w1", lease_seconds=30, queue_job_id=job.id)
    assert running is not None and running.status is JobStatus.RUNNING and running.attempts == 1
    update = ProgressUpdate(phase="searching", percent_complete=30, message="Searching", partial_result="so far")
    assert await store.update_progress(job.id, update, owner="w1")
    assert not await store.update_progress(job.id, update, owner="w2")
    done = JobFinish(status=JobStatus.COMPLETE, result="ok", findings=[{"severity": "low"}], tokens_input=5)
    assert await store.finish(job.id, done, owner="w1")
    assert not await store.finish(job.id, JobFinish.failed("late"))
    await store.release(job.id, owner="w1")  # bookkeeping on a terminal row is allowed
    with pytest.raises(REFUSED, match="terminal jobs cannot change"):
        await store.db.execute("UPDATE jobs SET status='running', result='tampered' WHERE id=?", (job.id,))
    final = await store.get(job.id)
    assert final is not None
    assert (final.status, final.result, final.findings, final.partial_result) == (
        JobStatus.COMPLETE,
        "ok",
        [{"severity": "low"}],
        "so far",
    )
    assert final.lease_expires_at is None and final.duration_seconds is not None
    assert await store.estimate_seconds("qa") == pytest.approx(final.duration_seconds)


async def test_concurrent_claims_and_finishes_have_exactly_one_winner(database: Path | str) -> None:
    async with AsyncExitStack() as stack:
        stores = await _stores(stack, database)
        jobs = [JobState(persona="qa", task=f"job {n}") for n in range(25)]
        for job in jobs:
            await stores[0].insert(job)
        claims = await asyncio.gather(
            *(
                s.claim(job.id, owner=f"w{i}", lease_seconds=30, queue_job_id=job.id)
                for job in jobs
                for i, s in enumerate(stores)
            )
        )
        owners = [c.lease_owner for c in claims if c is not None]
        assert len(owners) == len(jobs), "every job is claimed by exactly one writer"
        current = {job.id: (await stores[0].get(job.id)) for job in jobs}
        # the owner completes while the server cancels: exactly one of them lands, per job
        outcomes = await asyncio.gather(
            *(
                op
                for job in jobs
                for op in (
                    stores[1].finish(
                        job.id,
                        JobFinish(status=JobStatus.COMPLETE, result="r"),
                        owner=current[job.id].lease_owner,  # type: ignore[union-attr]
                    ),
                    stores[2].finish(job.id, JobFinish.cancelled("cancelled")),
                )
            )
        )
        assert [sum(outcomes[i : i + 2]) for i in range(0, len(outcomes), 2)] == [1] * len(jobs)
        counts = await stores[3].status_counts()
        assert counts["complete"] + counts["cancelled"] == len(jobs) and counts["running"] == 0


async def test_expired_leases_are_requeued_once_across_reapers(database: Path | str) -> None:
    async with AsyncExitStack() as stack:
        stores = await _stores(stack, database)
        job = JobState(persona="sre", task="t")
        await stores[0].insert(job)
        assert await stores[0].claim(job.id, owner="dead", lease_seconds=0.01, queue_job_id=job.id)
        await asyncio.sleep(0.05)  # the lease lapses (a time in the store, not a test bound)
        now = time.time()
        expired = await stores[1].expired_leases(now)
        assert [j.id for j in expired] == [job.id]
        wins = await asyncio.gather(
            *(s.requeue_expired(job.id, queue_job_id=f"{job.id}:r1", now=now, message="again") for s in stores)
        )
        assert sum(wins) == 1
        back = await stores[0].get(job.id)
        assert back is not None and back.status is JobStatus.PENDING and back.queue_job_id == f"{job.id}:r1"
        assert await stores[2].move_queue_entry(job.id, old=f"{job.id}:r1", new="q2", now=now)
        assert not await stores[3].move_queue_entry(job.id, old=f"{job.id}:r1", new="q3", now=now)
        assert await stores[0].move_queue_entry(job.id, old="q2", new="q4", now=now)


async def test_quota_is_never_overshot_by_concurrent_submits_and_survives_reset(database: Path | str) -> None:
    async with AsyncExitStack() as stack:
        stores = await _stores(stack, database)
        accepted = await asyncio.gather(
            *(stores[n % WRITERS].count_accepted("qa", "2026-11-29", limit=10) for n in range(40))
        )
        assert sum(accepted) == 10
        await stores[0].uncount_accepted("qa", "2026-11-29")
        assert await stores[1].count_accepted("qa", "2026-11-29", limit=10)
        assert not await stores[1].count_accepted("qa", "2026-11-29", limit=10)
        await stores[2].delete_all()
        assert await stores[3].accepted("qa", "2026-11-29") == 10
        assert await stores[3].count_accepted("qa", "2026-11-30", limit=10)


async def test_conversations_go_with_their_jobs(store: JobStore) -> None:
    now = time.time()
    old = JobState(persona="qa", task="old", status=JobStatus.COMPLETE, created_at=now - 40 * DAY)
    old = old.model_copy(update={"completed_at": now - 40 * DAY})
    new = JobState(persona="qa", task="new")
    for job in (old, new):
        await store.insert(job)
        await store.save_conversation(job.id, [{"role": "user", "content": f"file contents of {job.task}"}])
    await store.save_conversation(new.id, [{"role": "user", "content": "replaced"}])
    report = await apply_retention(store, JobOptions(retention_days_complete=30), now=now)
    assert report.deleted == 1
    assert await store.conversation(old.id) is None
    assert await store.conversation(new.id) == [{"role": "user", "content": "replaced"}]
    await store.delete_all()
    assert await store.conversation_count() == 0


async def test_reads_and_stats(store: JobStore) -> None:
    jobs = [JobState(persona=p, task="t") for p in ("qa", "qa", "sre")]
    for job in jobs:
        await store.insert(job)
    await store.finish(jobs[0].id, JobFinish(status=JobStatus.COMPLETE, result="r", duration_seconds=2.5))
    listed, matching = await store.list_jobs(persona="qa", limit=1)
    assert matching == 2 and len(listed) == 1
    assert await store.count() == 3 and len(await store.active()) == 2
    await store.set_meta({"last_cleanup": "1.5"})
    await store.set_meta({"last_cleanup": "2.5"})
    assert await store.get_meta("last_cleanup") == "2.5"
    stats = await database_stats(store, JobOptions())
    assert stats.total_jobs == 3 and stats.jobs_by_status["complete"] == 1 and stats.database_size_mb >= 0
    assert {u.persona: u.jobs for u in stats.personas} == {"qa": 2, "sre": 1}
    assert await store.recent_durations("qa") == [2.5]
    assert (await store.oldest_created_at() or 0) > 0


async def test_migrations_are_versioned_and_applied_once_by_concurrent_starts(database: Path | str) -> None:
    async def open_both() -> None:
        async with JobStore.open(database), ProposalStore.open(database):
            pass

    await asyncio.gather(*(open_both() for _ in range(3)))
    await open_both()
    async with JobStore.open(database) as store:
        rows = await store.db.fetch("SELECT component, version FROM schema_migrations ORDER BY component, version")
    assert [(r["component"], r["version"]) for r in rows] == [
        ("jobs", 1),
        ("jobs", 2),
        ("proposals", 1),
        ("proposals", 2),
    ]


async def test_decided_proposals_are_final_and_one_decision_wins(database: Path | str, tmp_path: Path) -> None:
    async with ProposalStore.open(database) as a, ProposalStore.open(database) as b:
        drafts = await asyncio.gather(*(s.create_draft(**DRAFT) for s in (a, b, a, b)))
        assert len(set(drafts)) == 1, "concurrent proposals of one topic revise one open proposal"
        pid = drafts[0]
        current = await a.get(pid)
        assert current is not None and current.version == 4
        decisions = await asyncio.gather(
            a.mark_approved(pid, version=4, approved_by="alice", file_path="/x", content="c", edited=False),
            b.reject(pid, feedback="no"),
        )
        assert sum(decisions) == 1
        with pytest.raises(REFUSED, match="decided proposals cannot change"):
            await a.db.execute("UPDATE proposals SET content='tampered', status='draft' WHERE id=?", (pid,))
        fresh = await b.create_draft(**{**DRAFT, "topic": "other-topic"})
        with pytest.raises(REFUSED):
            await b.db.execute("UPDATE proposals SET status='published' WHERE id=?", (fresh,))
        assert await a.status_counts() == {"draft": 1, "changes_requested": 0, "approved": int(decisions[0]),
                                           "rejected": int(decisions[1])}  # fmt: skip
        assert len(await b.list(statuses=("approved", "rejected"))) == 1


async def test_approved_standards_list_the_newest_approval_of_each_file_in_the_window(database: Path | str) -> None:
    async def approve(store: ProposalStore, topic: str, content: str, target: ApprovalTarget = "project") -> str:
        pid = await store.create_draft(**{**DRAFT, "topic": topic, "content": content})
        assert await store.mark_approved(
            pid,
            version=1,
            approved_by="alice",
            file_path=f"/x/{topic}.md",
            content=content,
            edited=False,
            target=target,
        )
        return pid

    async with ProposalStore.open(database) as store:
        await approve(store, "before-the-window", "## Old\nold")
        await asyncio.sleep(0.01)
        since = time.time()
        await approve(store, "jwt", "## V1\nfirst")
        newest = await approve(store, "jwt", "## V2\nsecond")  # a later approval of the same file
        shared = await approve(store, "org-wide", "## Org\nshared", target="shared")
        await store.create_draft(**{**DRAFT, "topic": "still-open"})

        listed = await store.approved_standards(since=since)
        assert [(p.id, p.target, p.topic) for p in listed] == [
            (shared, "shared", "org-wide"),
            (newest, "project", "jwt"),
        ]
        assert [p.id for p in await store.approved_standards(since=since, files=["security/jwt.md"])] == [newest]
        assert await store.approved_standards(since=since, files=["../security/jwt.md", "security/jwt.txt", ""]) == []
        assert await store.approved_standards(since=time.time() + 60) == []
        assert {p.topic for p in await store.approved_standards(since=0)} == {"before-the-window", "jwt", "org-wide"}


async def test_query_counts_from_every_host_add_up(database: Path | str) -> None:
    from standards.index.counts import QueryCounter

    hosts = [QueryCounter(database, flush_seconds=3600), QueryCounter(database, flush_seconds=3600)]
    for counter in hosts:
        await counter.start()
    try:
        hosts[0].record(["security/secrets.md", "testing/flaky.md"])
        hosts[1].record(["security/secrets.md"])
        await asyncio.gather(*(c.flush() for c in hosts))
        hosts[1].record(["security/secrets.md"])  # not flushed yet: still counted
        assert await hosts[1].counts() == {"security/secrets.md": 3, "testing/flaky.md": 1}
    finally:
        for counter in hosts:
            await counter.stop()
    again = QueryCounter(database)
    await again.start()
    try:
        assert await again.counts() == {"security/secrets.md": 3, "testing/flaky.md": 1}
    finally:
        await again.stop()
