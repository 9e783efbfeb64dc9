"""The human side of proposals: show (with a diff), approve (write + index), reject, request changes.

No MCP here: the tools and the CLI call :class:`ProposalService`. Its dependencies come in as
arguments: the store, the standards folder it writes to, a way to queue a revision run of the
proposing persona (``JobService.submit`` fits :class:`RevisionQueue`), and a way to re-index a
written file at once (``IndexSearcher.reindex_paths``), both optional. One concern (the human
decisions on a proposal), a little past 400 lines because each decision carries its checks and the
messages that say what to do next.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from standards.control_chars import check_no_controls
from standards.curation.models import (
    Action,
    ApprovalResult,
    DecisionResult,
    ProposalDetail,
    ProposalError,
    ProposalList,
    ProposalSummary,
    StatusFilter,
    UnknownProposalError,
    iso_time,
)
from standards.curation.publish import (
    StaleBaseError,
    StandardExistsError,
    StandardWriteError,
    Written,
    read_existing,
    standard_path,
    undo_write,
    write_standard,
)
from standards.curation.secrets import ScanTarget, check_no_secrets
from standards.curation.store import (
    MAX_CONTENT_CHARS,
    MAX_FEEDBACK_CHARS,
    OPEN_STATUSES,
    ApprovalTarget,
    Proposal,
    ProposalStore,
    check_text,
)
from standards.curation.views import (
    blockers,
    file_of,
    next_steps,
    render_for,
    summary_fields,
    update_diff,
)

log = logging.getLogger(__name__)

Reindex = Callable[[list[Path]], Awaitable[None]]
Target = ApprovalTarget
DEFAULT_APPROVER = "human reviewer"
MAX_APPROVER_CHARS = 100

__all__ = [
    "ApprovalResult",
    "DecisionResult",
    "ProposalDetail",
    "ProposalError",
    "ProposalList",
    "ProposalService",
    "ProposalSummary",
    "RevisionQueue",
    "StatusFilter",
    "UnknownProposalError",
]


class QueuedJob(Protocol):
    @property
    def job_id(self) -> str: ...


class RevisionQueue(Protocol):
    """Queues a persona run (``worker.service.JobService`` satisfies it)."""

    async def submit(
        self, persona_id: str, task: str, context: str | None = None, priority: str = "normal"
    ) -> QueuedJob: ...


# ------------------------------------------------------------------ service


class ProposalService:
    """Domain operations behind the proposal tools and the ``personas standards`` commands."""

    def __init__(
        self,
        store: ProposalStore,
        standards_dir: Path,
        *,
        revisions: RevisionQueue | None = None,
        reindex: Reindex | None = None,
        shared_dir: Path | None = None,
        shared_writable: bool = False,
    ) -> None:
        self.store = store
        self.standards_dir = standards_dir
        self.shared_dir = shared_dir
        self.shared_writable = shared_writable
        self.revisions = revisions
        self.reindex = reindex
        self._lock = asyncio.Lock()  # approvals in this process run one at a time

    async def _get(self, proposal_id: str) -> Proposal:
        proposal_id = proposal_id.strip()
        proposal = await self.store.get(proposal_id) if proposal_id else None
        if proposal is None:
            raise UnknownProposalError(proposal_id)
        return proposal

    def _decided(self, p: Proposal, verb: str) -> ProposalError:
        where = f" (written to {p.file_path})" if p.file_path else ""
        return ProposalError(
            f"Proposal {p.id} ({file_of(p)}) is already {p.status}{where}; approved and rejected proposals are "
            f"final, so it cannot be {verb}. To change the standard now, edit the file or have a persona propose "
            "an update."
        )

    # ---- list / show ----------------------------------------------------------------------

    async def list_proposals(
        self, status: StatusFilter = "open", domain: str | None = None, limit: int = 50
    ) -> ProposalList:
        if status == "open":
            proposals = await self.store.list(statuses=OPEN_STATUSES, domain=domain, limit=limit)
        elif status == "all":
            proposals = await self.store.list(domain=domain, limit=limit)
        else:
            proposals = await self.store.list(status=status, domain=domain, limit=limit)
        counts = await self.store.status_counts()
        waiting = counts["draft"]
        which = "" if status == "all" else status.replace("_", " ") + " "  # not "No all proposals."
        message = (
            f"{len(proposals)} {which}proposal(s) shown; {waiting} draft(s) await a decision. "
            "get_standard_proposal(id) shows the full text and any diff."
            if proposals
            else f"No {which}proposals."
        )
        return ProposalList(
            proposals=[ProposalSummary.model_validate(summary_fields(p)) for p in proposals],
            counts=counts,
            message=message,
        )

    async def show(self, proposal_id: str) -> ProposalDetail:
        p = await self._get(proposal_id)
        target = self.standards_dir.expanduser().resolve() / p.domain / f"{p.topic}.md"
        diff: str | None = None
        blocked: list[str] = []
        if p.is_open:
            try:
                target = await asyncio.to_thread(standard_path, self.standards_dir, p.domain, p.topic)
                current = await asyncio.to_thread(read_existing, target)
                blocked = blockers(p, current)
                if p.is_update:
                    before = (current if current is not None else (p.base_content or "").encode()).decode(
                        "utf-8", errors="replace"
                    )
                    diff = await asyncio.to_thread(update_diff, p, before)
            except (StandardWriteError, ValueError, OSError) as exc:
                blocked = [str(exc)]
        return ProposalDetail(
            **summary_fields(p),  # type: ignore[arg-type]
            content=p.content,
            rationale=p.rationale,
            job_id=p.job_id,
            revision_job_id=p.revision_job_id,
            created_at=iso_time(p.created_at),
            path=p.file_path or str(target),
            diff=diff,
            approvable=p.is_open and not blocked,
            blockers=blocked,
            approved_by=p.approved_by,
            edited=p.edited,
            decided_at=iso_time(p.decided_at),
            next_steps=next_steps(p, blocked),
        )

    # ---- approve --------------------------------------------------------------------------

    def _target_root(self, target: Target) -> Path:
        """The standards folder an approval writes to; 'shared' only when configured, allowed and writable."""
        if target == "project":
            if self.standards_dir.exists() and not self.standards_dir.is_dir():
                raise ProposalError(
                    f"Not approved: the standards folder {self.standards_dir} is a file, not a folder; point "
                    "PERSONAS_STANDARDS_DIR at a folder (default .agent-os/standards)."
                )
            return self.standards_dir
        if target != "shared":
            raise ProposalError(f"Unknown target {target!r}: use 'project' (default) or 'shared'.")
        if self.shared_dir is None:
            raise ProposalError(
                "Not approved: no shared standards folder is configured. Set PERSONAS_SHARED_STANDARDS_DIRS to the "
                "org's standards checkout (the first folder is written), or approve with target='project'."
            )
        if not self.shared_writable:
            raise ProposalError(
                f"Not approved: the shared standards folder {self.shared_dir} is read-only for approvals. Set "
                "PERSONAS_SHARED_STANDARDS_WRITABLE=true to allow it, or approve with target='project'."
            )
        if not self.shared_dir.is_dir() or not os.access(self.shared_dir, os.W_OK | os.X_OK):
            raise ProposalError(
                f"Not approved: the shared standards folder {self.shared_dir} does not exist or is not writable by "
                "this server; fix its permissions, or approve with target='project'."
            )
        return self.shared_dir

    async def approve(
        self,
        proposal_id: str,
        *,
        approved_by: str | None = None,
        edits: str | None = None,
        target: Target = "project",
    ) -> ApprovalResult:
        """Write the standard (to the project's standards, or with ``target='shared'`` to the first shared
        folder), mark the proposal approved, re-index the file. Refuses (ProposalError) to overwrite a file
        that exists but was not the base of this proposal, or changed since."""
        approver = (approved_by or "").strip() or DEFAULT_APPROVER
        check_text("approved_by", approver, MAX_APPROVER_CHARS)
        root = await asyncio.to_thread(self._target_root, target)
        async with self._lock:
            p = await self._get(proposal_id)
            if not p.is_open:
                raise self._decided(p, "approved")
            content = p.content if edits is None else edits
            if edits is not None:
                check_text("edits", edits, MAX_CONTENT_CHARS)
            field = "edits" if edits is not None else "content"
            try:
                check_no_controls(field, content)  # also for proposals stored before this check existed
                await asyncio.to_thread(check_no_secrets, ScanTarget(field, content))
            except ValueError as exc:
                raise ProposalError(f"Not approved: the {exc}") from None
            written = await self._write(p, content, approver, root)
            marked = await self.store.mark_approved(
                p.id,
                version=p.version,
                approved_by=approver,
                file_path=str(written.path),
                content=content,
                edited=edits is not None,
                target=target,
            )
            if not marked:
                undone = await asyncio.to_thread(undo_write, written)
                now = await self.store.get(p.id)
                state = f"now {now.status}, version {now.version}" if now else "deleted"
                raise ProposalError(
                    f"Proposal {p.id} changed while it was being approved ({state}); "
                    + ("nothing was written. " if undone else f"{written.path} was left as written. ")
                    + "Look at it again with get_standard_proposal."
                )
        indexed = await self._reindex(written.path)
        action: Action = "create" if written.created else "update"
        file = file_of(p)
        when = (
            "It is searchable now."
            if indexed
            else "A running server indexes it within a second; otherwise it is indexed when the server next starts."
        )
        return ApprovalResult(
            id=p.id,
            status="approved",
            action=action,
            file=file,
            path=str(written.path),
            target=target,
            version=p.version,
            approved_by=approver,
            indexed=indexed,
            message=f"Standard {'created' if written.created else 'updated'} at {written.path}. {when}",
        )

    async def _write(self, p: Proposal, content: str, approver: str, root: Path) -> Written:
        file = file_of(p)
        try:
            target = await asyncio.to_thread(standard_path, root, p.domain, p.topic)
            current = await asyncio.to_thread(read_existing, target)
            blocked = blockers(p, current)
            if blocked:
                raise ProposalError(f"Not approved: {blocked[0]}")
            existing = current.decode("utf-8", errors="replace") if current is not None else None
            text = await asyncio.to_thread(render_for, p, content, approver, existing)
            return await asyncio.to_thread(
                write_standard, root, target, text, base_hash=p.base_hash if p.is_update else None
            )
        except StandardExistsError:
            raise ProposalError(
                f"Not approved: {file} was created meanwhile and approval never overwrites a standard silently. "
                "Request changes so the persona revises it as an update, or reject it."
            ) from None
        except StaleBaseError as exc:
            raise ProposalError(
                f"Not approved: {exc} Approving would overwrite those changes; request changes so the persona "
                "revises it against the current file, or reject it."
            ) from None
        except ProposalError:
            raise
        except ValueError as exc:  # bad slug, path escape, malformed front matter in the content
            raise ProposalError(f"Not approved: {exc}") from None

    async def _reindex(self, path: Path) -> bool:
        if self.reindex is None:
            return False
        try:
            await self.reindex([path])
        except Exception:  # the file is written and approved; the watcher or next start indexes it
            log.warning("re-indexing %s after approval failed", path, exc_info=True)
            return False
        return True

    # ---- reject / request changes ---------------------------------------------------------

    async def reject(self, proposal_id: str, feedback: str) -> DecisionResult:
        feedback = feedback.strip()
        check_text("feedback", feedback, MAX_FEEDBACK_CHARS)
        p = await self._get(proposal_id)
        if not p.is_open or not await self.store.reject(p.id, feedback=feedback):
            raise self._decided(await self._get(p.id), "rejected")
        return DecisionResult(
            id=p.id,
            status="rejected",
            version=p.version,
            feedback=feedback,
            message=f"Proposal {p.id} ({file_of(p)}) rejected; nothing was written.",
        )

    async def request_changes(self, proposal_id: str, feedback: str, priority: str = "normal") -> DecisionResult:
        """Record the feedback and queue a run of the proposing persona that revises its draft; its
        ``propose_standard`` on the same domain/topic becomes the next version."""
        feedback = feedback.strip()
        check_text("feedback", feedback, MAX_FEEDBACK_CHARS)
        try:
            await asyncio.to_thread(check_no_secrets, ScanTarget("feedback", feedback))
        except ValueError as exc:
            raise ProposalError(f"The {exc}") from None
        if self.revisions is None:
            raise ProposalError(
                "Revision runs cannot be queued here (no job queue). Start the server, or set REDIS_URL."
            )
        p = await self._get(proposal_id)
        if not p.is_open:
            raise self._decided(p, "revised")
        if not await self.store.request_changes(p.id, feedback=feedback, version=p.version):
            raise ProposalError(f"Proposal {p.id} changed meanwhile; look at it again with get_standard_proposal.")
        task, context = await asyncio.to_thread(self._revision_request, p, feedback)
        try:
            job = await self.revisions.submit(p.proposed_by, task, context, priority)
        except BaseException:  # not queued: back to draft, and the caller sees the original error
            await asyncio.shield(self.store.reopen(p.id, version=p.version))
            raise
        await self.store.set_revision_job(p.id, job.job_id)
        return DecisionResult(
            id=p.id,
            status="changes_requested",
            version=p.version,
            feedback=feedback,
            revision_job_id=job.job_id,
            message=(
                f"Changes requested; {p.proposed_by} is revising {file_of(p)} in job {job.job_id} "
                f"(wait_for_persona_job(job_id='{job.job_id}') follows it). The revision becomes version "
                f"{p.version + 1} of proposal {p.id}."
            ),
        )

    def _revision_request(self, p: Proposal, feedback: str) -> tuple[str, str]:
        """Blocking (reads the current standard). The task and context of the revision run."""
        task = (
            f"Revise your proposed standard '{p.title}' ({p.domain}/{p.topic}, proposal {p.id}, version "
            f"{p.version}) per this feedback from the human reviewer:\n\n{feedback}\n\n"
            f"Your current draft is in the context. Call propose_standard once with domain '{p.domain}' and topic "
            f"'{p.topic}' (unchanged) and the complete revised content; it becomes version {p.version + 1} of the "
            "same proposal. Then call submit_review: summarise what you changed, list the proposal id in "
            "proposed_standards, and report no findings unless the feedback asks for a review."
        )
        parts = [
            f"# Your current draft (version {p.version})",
            f"title: {p.title}\ndomain: {p.domain}\ntopic: {p.topic}\nrationale: {p.rationale}",
            f"## Content\n\n{p.content}",
        ]
        try:
            current = read_existing(standard_path(self.standards_dir, p.domain, p.topic))
        except (StandardWriteError, ValueError, OSError):
            current = None
        if current is not None:
            parts.append(
                f"## The existing standard {file_of(p)} (your proposal updates it; keep what still holds)\n\n"
                + current.decode("utf-8", errors="replace")
            )
        return task, "\n\n".join(parts)
