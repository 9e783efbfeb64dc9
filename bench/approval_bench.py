"""Approval → searchable latency: approve a proposed standard, then search until it is returned.

Runs `personas serve` over stdio exactly as an MCP client would (embedded Redis, the real
embedding model: the default Settings embedder), seeds N proposals on distinct topics into the
project's proposal database, waits for the index to be ready and warm, then for each proposal
calls approve_standard_proposal and, from the moment it is sent, searches with the standard's
title every 10 ms until the new file is among the top 5. Prints a table; asserts nothing. Usage:
    .venv/bin/python -m bench.approval_bench [--approvals 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from standards.curation.store import ProposalStore

REPO = Path(__file__).resolve().parents[1]

TOPICS = [
    ("architecture", "Idempotency keys for payment APIs", "Clients send an Idempotency-Key header on every POST"),
    ("architecture", "Feature flag retirement", "Every feature flag has an owner and a removal date"),
    ("architecture", "Outbox pattern for domain events", "Write events to an outbox table in the same transaction"),
    ("data", "Partitioning large fact tables", "Partition fact tables by event date and prune partitions"),
    ("data", "Backfill runbooks", "Every backfill has a dry run, a row-count check and a rollback plan"),
    ("data", "Column naming in the warehouse", "Columns are snake_case with units as suffixes like _ms"),
    ("development", "Pull request size", "Keep pull requests under four hundred changed lines"),
    ("development", "Commit message format", "Use an imperative subject line under seventy characters"),
    ("development", "Internationalised strings", "User-facing strings go through the translation catalogue"),
    ("development", "Date and time handling", "Store instants in UTC and convert only at the display edge"),
    ("operations", "Capacity planning reviews", "Review CPU and memory headroom every quarter per service"),
    ("operations", "On-call handover", "The outgoing engineer writes a handover note with open incidents"),
    ("operations", "Runbook structure", "Runbooks start with symptoms, then diagnosis, then mitigation"),
    ("operations", "Canary analysis", "Compare canary error rate and latency to the baseline before promoting"),
    ("security", "Webhook signature verification", "Verify the HMAC signature of every inbound webhook"),
    ("security", "Content Security Policy", "Ship a strict CSP with nonces and no unsafe-inline scripts"),
    ("security", "Server-side request forgery", "Resolve and allow-list outbound hosts before fetching user URLs"),
    ("testing", "Contract tests between services", "Consumers publish contracts that providers verify in CI"),
    ("testing", "Snapshot test hygiene", "Review snapshot diffs like code and keep snapshots small"),
    ("testing", "Load test baselines", "Record a load test baseline per release and alert on regressions"),
]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def slug(title: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())


def content(title: str, rule: str) -> str:
    return (
        f"## Summary\n{rule}.\n\n## Context\nApplies to every team. {title} keeps systems predictable.\n\n"
        f"## The rule\n1. {rule}.\n2. Document exceptions in the service README.\n\n"
        f"## Checklist\n- [ ] {rule}\n"
    )


async def seed(project: Path, count: int) -> list[tuple[str, str, str]]:
    """(proposal id, file, query) for ``count`` new proposals."""
    seeded: list[tuple[str, str, str]] = []
    db = project / ".agent-os" / "data" / "proposals.sqlite3"
    async with ProposalStore.open(db, project / ".agent-os" / "standards") as store:
        for i in range(count):
            domain, title, rule = TOPICS[i % len(TOPICS)]
            topic = slug(title) if i < len(TOPICS) else f"{slug(title)}-{i}"
            pid = await store.create_draft(
                domain=domain,
                topic=topic,
                title=title,
                content=content(title, rule),
                rationale="benchmark",
                proposed_by={"development": "engineer", "operations": "sre", "testing": "qa"}.get(domain, domain),
            )
            seeded.append((pid, f"{domain}/{topic}.md", f"{title}: {rule}"))
    return seeded


async def structured(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    body = result.structured_content
    if result.is_error or not isinstance(body, dict):
        raise RuntimeError(f"{tool} failed: {result.content}")
    return body


async def run(approvals: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        proposals = await seed(project, approvals)
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_")) and k != "REDIS_URL"
        }
        env["PERSONAS_PROJECT_ROOT"] = tmp
        env["PERSONAS_LOG_LEVEL"] = "WARNING"
        env["PERSONAS_TOOLS"] = "all"
        params = StdioServerParameters(command=str(Path(sys.executable).with_name("personas")), args=["serve"], env=env)
        async with Client(params) as client:
            t0 = time.perf_counter()
            while True:  # polling over the protocol is what a client does; there is no event to wait on
                status = (await structured(client, "search_standards", {"query": "warm up"}))["status"]
                if status["state"] == "ready":
                    break
                await asyncio.sleep(0.2)
            ready = time.perf_counter() - t0
            for query in ("how do we roll back a deploy", "error handling"):  # warm model + caches
                await structured(client, "search_standards", {"query": query})
            approve_ms: list[float] = []
            searchable_ms: list[float] = []
            first_try = 0
            for pid, file, query in proposals:
                t = time.perf_counter()
                approved = await structured(client, "approve_standard_proposal", {"proposal_id": pid})
                approve_ms.append((time.perf_counter() - t) * 1000)
                tries = 0
                while True:
                    tries += 1
                    hits = (await structured(client, "search_standards", {"query": query, "limit": 5}))["results"]
                    if any(hit["file"] == file and hit["source"] == "project" for hit in hits):
                        break
                    if time.perf_counter() - t > 30:
                        raise RuntimeError(f"{file} not searchable after 30 s")
                    await asyncio.sleep(0.01)
                searchable_ms.append((time.perf_counter() - t) * 1000)
                first_try += tries == 1
                if not approved["indexed"]:
                    print(f"note: {file} was indexed by the watcher, not by the approval", file=sys.stderr)
    n = len(proposals)

    def spread(values: list[float]) -> str:
        return f"p50 {pct(values, 50):.0f} ms, p95 {pct(values, 95):.0f} ms, max {max(values):.0f} ms"

    rows = [
        ("index ready after start (real model, universal standards)", f"{ready:.1f} s", ""),
        ("approve_standard_proposal round trip", spread(approve_ms), ""),
        ("approval sent → returned by search_standards", spread(searchable_ms), "p95 ≤ 1000 ms"),
        ("found by the first search after approval", f"{first_try}/{n}", f"{n}/{n}"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"approval bench: {n} approvals over stdio, embedded Redis, real embedding model")
    for label, value, target in rows:
        print(f"  {label.ljust(width)}  {value}" + (f"   (target {target})" if target else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--approvals", type=int, default=20, help="How many proposals to approve (default 20).")
    args = parser.parse_args()
    asyncio.run(run(args.approvals))


if __name__ == "__main__":
    main()
