"""The dismissal store on both backends (SQLite and a real PostgreSQL): record, re-dismiss, list, restore, count."""

from __future__ import annotations

from pathlib import Path

from worker.dismissals import Dismissal, DismissalStore
from worker.store import JobStore


def dismissal(fingerprint: str, persona: str, when: float, reason: str = "noise") -> Dismissal:
    return Dismissal(
        fingerprint=fingerprint,
        persona=persona,
        title=f"finding {fingerprint}",
        file="app.py",
        reason=reason,
        dismissed_by="alice",
        dismissed_at=when,
        job_id="job-1",
    )


async def test_dismissals_on_each_backend(database: Path | str) -> None:
    async with JobStore.open(database) as store:
        dismissals = await DismissalStore.attach(store.db)
        again = await DismissalStore.attach(store.db)  # migrations apply once
        await dismissals.record([dismissal("a", "security", 1.0), dismissal("b", "security", 2.0)])
        await dismissals.record([dismissal("c", "qa", 3.0), dismissal("a", "security", 4.0, "accepted risk")])

        assert [d.fingerprint for d in await again.listed()] == ["a", "c", "b"]  # newest first
        assert (await dismissals.listed(persona="security"))[0].reason == "accepted risk"
        assert await dismissals.fingerprints(["security"]) == {"a", "b"}
        assert await dismissals.fingerprints([]) == set()
        assert [d.id for d in await dismissals.for_personas(["qa", "security"])] == ["c", "a", "b"]
        assert await dismissals.counts_by_persona() == {"security": 2, "qa": 1}
        assert await dismissals.restore("a") is True
        assert await dismissals.restore("a") is False
        assert await dismissals.fingerprints(["security", "qa"]) == {"b", "c"}
