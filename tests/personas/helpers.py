"""Helpers for persona-runtime tests: a scripted standards search, progress recorder, reply builders."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from personas.runtime import ProgressUpdate
from standards.index.models import IndexStatus, SearchHit, SearchResponse
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import Reply

_ids = itertools.count(1)

JWT_HIT = SearchHit(
    file="security/authentication-and-sessions.md",
    heading_path=["Authentication and sessions", "The rule"],
    domain="security",
    source="universal",
    score=0.91,
    text="Validate every JWT: signature, alg allow-list, aud, iss and exp. Never accept alg=none.",
    tags=["jwt", "auth"],
)
SECRETS_HIT = SearchHit(
    file="security/secrets-management.md",
    heading_path=["Secrets management", "The rule"],
    domain="security",
    source="universal",
    score=0.55,
    text="Secrets come from the environment or a secret store, never from code.",
    tags=["secrets"],
)


@dataclass
class FakeSearch:
    """A StandardsSearch answering every query with ``hits`` (recording the calls)."""

    hits: list[SearchHit] = field(default_factory=lambda: [JWT_HIT, SECRETS_HIT])
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def search(
        self,
        query: str,
        *,
        domain: str | None = None,
        tags: list[str] | None = None,
        source: str | None = None,
        limit: int = 5,
        paths: list[str] | None = None,
        unaccepted: list[str] | None = None,
    ) -> SearchResponse:
        if domain == "nope":
            raise ValueError(f"invalid domain filter: {domain!r}")
        self.calls.append({"query": query, "domain": domain, "limit": limit, "paths": paths})
        if unaccepted:
            self.calls[-1]["unaccepted"] = unaccepted
        results = [h for h in self.hits if domain is None or h.domain == domain][:limit]
        status = IndexStatus(state="ready", files_indexed=2, files_total=2, chunks=2)
        return SearchResponse(query=query, results=results, status=status, took_ms=1.0, cached=False)


@dataclass
class Progress:
    """A ProgressSink that keeps every update."""

    updates: list[ProgressUpdate] = field(default_factory=list)

    async def __call__(self, update: ProgressUpdate) -> None:
        self.updates.append(update)

    def phases(self) -> list[str]:
        seen: list[str] = []
        for update in self.updates:
            if not seen or seen[-1] != update.phase:
                seen.append(update.phase)
        return seen


def call(name: str, tool_input: Any) -> dict[str, Any]:
    """One tool_use block with a fresh id."""
    return {"type": "tool_use", "id": f"toolu_t{next(_ids)}", "name": name, "input": tool_input}


def calls(*blocks: dict[str, Any], preface: str | None = None, **kwargs: Any) -> Reply:
    """An assistant turn with several tool_use blocks (and optional text first)."""
    content = ([{"type": "text", "text": preface}] if preface else []) + list(blocks)
    return fake.message(content, stop_reason="tool_use", **kwargs)


def submit(summary: str = "Verdict: OK.", findings: list[dict[str, Any]] | None = None, **kwargs: Any) -> Reply:
    return fake.tool_use("submit_review", {"summary": summary, "findings": findings or []}, **kwargs)


def finding(severity: str = "high", title: str = "Issue", **extra: Any) -> dict[str, Any]:
    return {
        "severity": severity,
        "title": title,
        "detail": extra.pop("detail", "Because."),
        "recommendation": extra.pop("recommendation", "Fix it."),
        **extra,
    }


def tool_results(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of a recorded request's last user message."""
    content = request["messages"][-1]["content"]
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def last_user_text(request: dict[str, Any]) -> str:
    content = request["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(b["text"] for b in content if b.get("type") == "text")
