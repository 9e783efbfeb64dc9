"""The desk in a real browser: approve, request changes, ops charts, keyboard use, labels, offline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from personas.runtime.models import ProgressUpdate
from tests.conftest import wait_for
from tests.desk.conftest import Site, open_page
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from worker.models import JobState, JobStatus


async def _shot(page: Any, artifacts: Path, name: str) -> None:
    await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


async def test_approve_through_the_page_makes_the_standard_searchable(page: Any, site: Site, artifacts: Path) -> None:
    proposal_id = await site.draft()
    await page.goto(f"{site.base}/proposals")
    assert await page.get_by_test_id("open-count").inner_text() == "1"
    await _shot(page, artifacts, "proposals")
    await page.get_by_role("link", name="Session cookies are HttpOnly and SameSite").click()
    assert await page.locator("article.standard code").first.inner_text() == "HttpOnly"  # rendered Markdown
    await page.get_by_label("Approved by").fill("alice")
    await page.get_by_role("button", name="Approve").click()

    assert await page.get_by_test_id("proposal-status").inner_text() == "approved"
    written = await page.get_by_test_id("written-path").inner_text()
    assert written.endswith("security/session-cookies.md") and Path(written).is_file()
    assert await page.get_by_test_id("searchable").is_visible()
    await _shot(page, artifacts, "proposal-approved")
    hits = await site.state.standards.search("Session cookies are HttpOnly and SameSite", limit=5)
    assert ("security/session-cookies.md", "project") in [(h.file, h.source) for h in hits.results]
    # The approver's name is remembered for the next proposal.
    other = await site.draft(topic="csrf-tokens", title="CSRF tokens on every form")
    await page.goto(f"{site.base}/proposals/{other}")
    assert await page.get_by_label("Approved by").input_value() == "alice"
    assert proposal_id != other


async def test_update_shows_a_side_by_side_diff_and_request_changes_queues_a_revision(
    page: Any, site: Site, artifacts: Path
) -> None:
    target = site.state.settings.standards_dir / "security" / "session-cookies.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("---\ntitle: Session cookies\n---\n## The rule\nSet HttpOnly on session cookies.\n")
    proposal_id = await site.draft()
    await page.goto(f"{site.base}/proposals/{proposal_id}")
    diff = page.get_by_role("table", name="Side-by-side diff")
    assert await diff.locator("tr.change, tr.add, tr.del").count() >= 1
    await _shot(page, artifacts, "proposal-diff")

    await page.get_by_label("What should change").fill("Add a Flask example.")
    await page.get_by_role("button", name="Request changes").click()
    assert await page.get_by_test_id("proposal-status").inner_text() == "changes_requested"
    job_id = await page.get_by_test_id("revision-job").inner_text()
    job = await site.state.jobs.get(job_id)
    assert job.persona == "security" and "Add a Flask example." in job.task
    await page.get_by_test_id("revision-job").click()  # the review page of that job opens
    assert await page.get_by_test_id("job-status").inner_text() in {"pending", "running", "complete"}


async def test_reject_needs_feedback_and_is_final(page: Any, site: Site) -> None:
    proposal_id = await site.draft()
    await page.goto(f"{site.base}/proposals/{proposal_id}")
    await page.get_by_label("Why reject it").fill("Covered by the cookie standard.")
    await page.get_by_role("button", name="Reject").click()
    assert await page.get_by_test_id("proposal-status").inner_text() == "rejected"
    assert await page.get_by_role("button", name="Approve").count() == 0
    await page.goto(f"{site.base}/proposals?status=decided")
    assert await page.get_by_test_id("decided-count").inner_text() == "1"


async def _seed_jobs(site: Site, per_day: dict[int, int], persona: str = "security") -> None:
    now = time.time()
    for days_ago, count in per_day.items():
        for i in range(count):
            created = now - days_ago * 86400 - i
            job = JobState(
                persona=persona,
                task=f"seeded {days_ago}/{i}",
                status=JobStatus.COMPLETE if i % 4 else JobStatus.FAILED,
                created_at=created,
                started_at=created,
                completed_at=created + 10 + i,
                duration_seconds=10.0 + i,
                tokens_input=1000,
                tokens_output=200,
                findings=[],
            )
            await site.state.jobs.store.insert(job)


async def test_ops_charts_have_a_point_per_day_and_persona(page: Any, site: Site, artifacts: Path) -> None:
    await _seed_jobs(site, {0: 3, 2: 1, 5: 2})
    await _seed_jobs(site, {1: 2}, persona="qa")
    for days in (7, 30):
        await page.goto(f"{site.base}/ops?days={days}")
        chart = page.get_by_test_id("chart-jobs")
        # pygal draws one <g class="bar"> per value: days x personas.
        assert await chart.locator("g.bar").count() == days * 2
        heights = await chart.locator("g.series.serie-1 g.bar rect").evaluate_all(
            "rects => rects.map(r => parseFloat(r.getAttribute('height')))"
        )
        assert sum(1 for h in heights if h > 0) == 3  # security ran on three distinct days
        if days == 7:
            await _shot(page, artifacts, "ops")
    rows = page.locator("table tbody tr")
    assert await rows.count() == 2  # qa and security, alphabetical
    assert await rows.nth(1).locator("td").first.inner_text() == "6"


async def test_reviews_list_filters_and_job_page_groups_findings_by_severity(
    page: Any, site: Site, artifacts: Path
) -> None:
    Path(site.state.settings.standards_dir / "security").mkdir(parents=True, exist_ok=True)
    (site.state.settings.standards_dir / "security" / "secrets.md").write_text("# Secrets\n\n## The rule\nNo keys.\n")
    job = JobState(
        persona="security",
        task="review the login flow",
        status=JobStatus.COMPLETE,
        completed_at=time.time(),
        duration_seconds=12.0,
        result="## Summary\nTwo issues.",
        findings=[
            {"severity": "low", "title": "Verbose error", "detail": "Leaks stack.", "recommendation": "Hide it."},
            {
                "severity": "critical",
                "title": "Hard-coded key",
                "detail": "A key in code.",
                "recommendation": "Use the vault.",
                "location": "api/login.py:3",
                "standard_refs": ["security/secrets.md#The rule"],
            },
        ],
    )
    await site.state.jobs.store.insert(job)
    await site.state.jobs.store.insert(JobState(persona="qa", task="tests for login", status=JobStatus.FAILED))
    await page.goto(f"{site.base}/reviews")
    assert await page.get_by_test_id("job-row").count() == 2
    await page.get_by_label("Persona").select_option("security")
    await page.get_by_role("button", name="Filter").click()
    assert await page.get_by_test_id("job-row").count() == 1
    await page.get_by_role("link", name="review the login flow").click()
    severities = await page.locator("section.severity h3").all_inner_texts()
    assert [s.split()[0] for s in severities] == ["Critical", "Low"]
    await _shot(page, artifacts, "review")
    await page.get_by_role("link", name="security/secrets.md#The rule").click()
    assert await page.locator("h2#the-rule").count() == 1  # the cited section is the link's anchor
    assert page.url.endswith("#the-rule")


async def test_running_job_shows_live_progress_and_can_be_cancelled(page: Any, site: Site) -> None:
    job = JobState(persona="security", task="long review", status=JobStatus.RUNNING, progress_percent=10)
    await site.state.jobs.store.insert(job)
    await page.goto(f"{site.base}/reviews/{job.id}")
    await site.state.jobs.store.update_progress(
        job.id, ProgressUpdate(phase="analyzing", percent_complete=60, message="Reading api/login.py")
    )

    async def updated() -> bool:
        text: str = await page.get_by_test_id("progress-message").inner_text()
        return text == "Reading api/login.py"

    await wait_for(updated, timeout=60, what="the page to poll the new progress")
    assert await page.locator("progress").evaluate("p => p.value") == 60
    await page.get_by_role("button", name="Cancel this job").click()
    assert await page.get_by_test_id("job-status").inner_text() == "cancelled"


async def test_standards_page_searches_like_the_tool_and_reads_a_standard(
    page: Any, site: Site, artifacts: Path
) -> None:
    await page.goto(f"{site.base}/standards")
    await page.get_by_role("searchbox", name="Search").fill("rotate database credentials")
    await page.keyboard.press("Enter")
    first = page.get_by_test_id("search-hit").first
    tool = await site.state.standards.search("rotate database credentials", limit=10)
    assert (await first.locator("a").inner_text()) == tool.results[0].file
    await _shot(page, artifacts, "standards")
    await first.locator("a").click()
    assert await page.locator("article.standard h1, article.standard h2").count() >= 1
    assert "---" not in (await page.locator("article.standard").inner_text())[:5]  # front matter not shown


async def test_every_control_is_labelled_and_the_page_works_by_keyboard(page: Any, site: Site) -> None:
    proposal_id = await site.draft()
    for path in ("/proposals", f"/proposals/{proposal_id}", "/reviews", "/ops", "/standards"):
        await page.goto(site.base + path)
        unlabelled = await page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                              && !(el.tagName === 'BUTTON' && el.textContent.trim()))
                .map(el => el.outerHTML)"""
        )
        assert unlabelled == [], f"{path}: {unlabelled}"
    # Keyboard only: Tab to the name field, type, Tab to Approve, Enter.
    await page.goto(f"{site.base}/proposals/{proposal_id}")
    for _ in range(40):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == "approved_by":
            break
    else:
        raise AssertionError("Tab never reached the 'Approved by' field")
    await page.keyboard.type("bob")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent.trim()") == "Approve"
    await page.keyboard.press("Enter")
    await page.wait_for_load_state()
    assert await page.get_by_test_id("proposal-status").inner_text() == "approved"


async def test_dismiss_a_finding_on_the_page_and_it_is_gone_from_a_re_run(
    chromium_path: str, review_site: Site, fake_api: FakeAnthropic, artifacts: Path
) -> None:
    site = review_site
    (site.state.settings.project_root / "app.py").write_text("def login(u, p):\n    return eval(load(u))\n")

    def review(summary: str) -> fake.Reply:
        finding = {
            "severity": "high",
            "title": "eval of user data",
            "detail": "`eval` runs whatever the user sent.",
            "location": "app.py:2",
            "standard_refs": [],
            "recommendation": "Parse it instead.",
        }
        return fake.tool_use("submit_review", {"summary": summary, "findings": [finding]})

    async def finished(job_id: str) -> JobState:
        async def done() -> JobState | None:
            job = await site.state.jobs.get(job_id)
            return job if job.status in (JobStatus.COMPLETE, JobStatus.FAILED) else None

        return await wait_for(done, timeout=30, what=f"job {job_id}")

    fake_api.add(review("First pass."))
    first = await finished((await site.state.jobs.submit("security", "review app.py", "app.py")).job_id)
    assert first.status is JobStatus.COMPLETE, first.error
    async with open_page(chromium_path, site) as page:
        await page.goto(f"{site.base}/reviews/{first.id}")
        await page.get_by_text("Dismiss as noise").click()
        await page.get_by_label("Why it is not a problem").fill("load() returns trusted config")
        await page.get_by_label("Dismissed by").fill("carol")
        await page.get_by_role("button", name="Dismiss finding: eval of user data").click()
        assert "Dismissed 'eval of user data'" in await page.get_by_test_id("notice").inner_text()
        assert await page.get_by_test_id("dismissed").count() == 1
        await _shot(page, artifacts, "review-dismissed")

        fake_api.add(review("Second pass."))  # the model raises it again
        second = await finished((await site.state.jobs.submit("security", "review app.py", "app.py")).job_id)
        await page.goto(f"{site.base}/reviews/{second.id}")
        assert await page.get_by_test_id("finding").count() == 0
        await page.goto(f"{site.base}/ops?days=7")
        rate = await page.locator("table tbody tr").first.locator("td").last.inner_text()
    assert second.status is JobStatus.COMPLETE and second.findings == []
    (listed,) = await site.state.dismissals.listed()  # type: ignore[union-attr]
    assert listed.dismissed_by == "carol" and listed.reason == "load() returns trusted config"
    assert rate == "100%"  # one finding raised in the window, one dismissed
