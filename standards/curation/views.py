"""What a person sees of a proposal before deciding (pure functions, no I/O).

The summary fields, the standard a proposal becomes, the diff an approval of an update would make,
what blocks approval and what to do next. :class:`~standards.curation.service.ProposalService`
reads the files and calls these.
"""

from __future__ import annotations

import difflib
from datetime import UTC, datetime

from standards.curation.models import iso_time
from standards.curation.publish import StandardDocument, content_hash, render_standard
from standards.curation.store import Proposal
from standards.frontmatter import split as split_front_matter


def file_of(p: Proposal) -> str:
    return f"{p.domain}/{p.topic}.md"


def summary_fields(p: Proposal) -> dict[str, object]:
    return {
        "id": p.id,
        "domain": p.domain,
        "topic": p.topic,
        "title": p.title,
        "status": p.status,
        "version": p.version,
        "proposed_by": p.proposed_by,
        "action": "update" if p.is_update else "create",
        "file": file_of(p),
        "feedback": p.feedback,
        "updated_at": iso_time(p.updated_at),
    }


def document_for(p: Proposal, content: str, approved_by: str) -> StandardDocument:
    """The standard a proposal becomes; front matter inside ``content`` (tags, extra fields) is kept."""
    meta, body = split_front_matter(content)
    title = str(meta.pop("title", "") or "").strip() or p.title
    tags = meta.pop("tags", None)
    for managed in ("domain", "version", "created_by", "approved_by", "last_updated"):
        meta.pop(managed, None)
    return StandardDocument(
        domain=p.domain,
        title=title,
        body=body,
        created_by=p.proposed_by,
        approved_by=approved_by,
        tags=tags if isinstance(tags, list | str) else None,
        extra=meta,
    )


def render_for(p: Proposal, content: str, approver: str, existing: str | None, *, now: datetime | None = None) -> str:
    """The file an approval writes (parses front matter: run it off the event loop)."""
    return render_standard(document_for(p, content, approver), existing=existing, now=now)


def approved_text(p: Proposal) -> str:
    """The standard an approved proposal wrote, rebuilt from the database (the approved content, the
    standard it updated, the decision time): what a host that cannot read the file yet indexes."""
    decided = datetime.fromtimestamp(p.decided_at or p.updated_at, UTC)
    return render_for(p, p.content, p.approved_by or "human reviewer", p.base_content, now=decided)


def update_diff(p: Proposal, before: str) -> str:
    """The diff an approval of an update would make (parses front matter: run it off the event loop)."""
    return unified(before, render_for(p, p.content, "(set on approval)", before), file_of(p))


def blockers(p: Proposal, current: bytes | None) -> list[str]:
    """Why an open proposal cannot be approved as it is (the target file vs. what it was made against)."""
    file = file_of(p)
    if not p.is_update and current is not None:
        return [
            f"{file} already exists, but this proposal was made as a new standard, and approval never "
            "overwrites a standard silently. Request changes so the persona revises it as an update of the "
            "existing file (the next version shows a diff), or reject it."
        ]
    if p.is_update and current is None:
        return [
            f"{file} was deleted after this proposal was made. Request changes so the persona proposes it "
            "again, or reject it."
        ]
    if p.is_update and current is not None and content_hash(current) != p.base_hash:
        return [
            f"{file} changed after this proposal (version {p.version}) was made; approving would overwrite "
            "those changes. Request changes so the persona revises it against the current file, or reject it."
        ]
    return []


def next_steps(p: Proposal, blockers: list[str]) -> str:
    """What the human (or the assistant on their behalf) can do next."""
    if p.status == "approved":
        return f"Approved by {p.approved_by}; the standard is at {p.file_path}."
    if p.status == "rejected":
        return "Rejected; nothing was written."
    if p.status == "changes_requested":
        job = f" (job {p.revision_job_id})" if p.revision_job_id else ""
        return (
            f"Waiting for {p.proposed_by} to revise it{job}; the revision becomes version {p.version + 1}. "
            "You can still approve or reject this version."
        )
    if blockers:
        return "Cannot be approved as it is: " + " ".join(blockers)
    return (
        "Show the user the content (and the diff, for an update), then, on the user's decision, call "
        "approve_standard_proposal, request_standard_changes (with feedback) or reject_standard_proposal."
    )


def unified(before: str, after: str, file: str) -> str:
    """A unified diff of two texts, every line ending in a newline."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{file}", f"b/{file}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
