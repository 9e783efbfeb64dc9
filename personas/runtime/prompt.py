"""What the model is told: the system prompt (persona + personality + rules) and the first user turn."""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
import re

from personas.changes.models import INDEX_HEAD, ChangeSet
from personas.model import PersonaDefinition, Personality
from personas.runtime.framing import DATA_RULE, data_block
from personas.runtime.models import DismissedFinding, PersonaRunError, RunLimits, RunRequest
from personas.runtime.sandbox import NotInProjectError, SandboxError
from personas.runtime.toolbox import ProjectFiles

EXTREME_LOW = 0.2
EXTREME_HIGH = 0.8
MAX_CONTEXT_LINE = 1_024

CITATION_RULE = (
    "## Citing standards\n"
    "Cite a team standard only as `file#heading`, copied exactly from the `ref:` of a search_standards "
    "result you retrieved in this run. Never invent standards, headings or refs; when none applies, write "
    "'no team standard' and name the industry reference."
)


def personality_instructions(p: Personality, max_tokens: int) -> list[str]:
    """Length, tone and creativity instructions; extreme traits (≤0.2 or ≥0.8) add a stronger modifier."""
    lines: list[str] = []
    if p.verbosity < 0.35:
        lines.append("Length: be brief. A summary of at most three sentences; each finding's detail in one or two.")
    elif p.verbosity < 0.65:
        lines.append("Length: be concise. Give each finding the evidence and the fix, nothing more.")
    else:
        lines.append("Length: be thorough. Explain each finding's evidence, impact and fix, with short code snippets.")
    if p.verbosity <= EXTREME_LOW:
        lines.append("Be terse: only findings of medium severity or above unless asked; one line each where possible.")
    elif p.verbosity >= EXTREME_HIGH:
        lines.append("Be exhaustive: cover every finding down to info, and include step-by-step fixes.")
    lines.append(f"Each of your turns is capped at {max_tokens} output tokens; the submit_review call must fit.")

    if p.formality < 0.35:
        lines.append("Tone: plain and conversational, like a teammate's review comment.")
    elif p.formality < 0.65:
        lines.append("Tone: clear and direct, professional without ceremony.")
    else:
        lines.append("Tone: formal and precise.")
    if p.formality <= EXTREME_LOW:
        lines.append("Keep it casual: contractions welcome, no boilerplate or headings beyond what helps.")
    elif p.formality >= EXTREME_HIGH:
        lines.append("Write as an audit report: no contractions, no humour, every claim tied to evidence.")

    if p.creativity <= EXTREME_LOW:
        lines.append("Stay conservative: report only what the code you read shows; no speculation.")
    elif p.creativity >= EXTREME_HIGH:
        lines.append(
            "Think laterally: consider unusual failure modes and alternative designs, marking speculation as such."
        )
    return lines


def build_system_prompt(persona: PersonaDefinition, limits: RunLimits) -> str:
    """Persona body + personality modifiers + citation rule + run limits: the exact prompt sent."""
    style = "\n".join(
        f"- {line}" for line in personality_instructions(persona.personality, persona.personality.max_tokens)
    )
    budget = (
        "## Budget\n"
        f"You have at most {limits.max_turns} turns and {limits.max_tool_calls} tool calls. Gather evidence "
        "efficiently and call submit_review before the budget runs out."
    )
    return (
        f"{persona.system_prompt.strip()}\n\n## Style for this run\n{style}\n\n{CITATION_RULE}\n\n{DATA_RULE}\n\n"
        f"{budget}"
    )


def prompt_hash(system_prompt: str) -> str:
    return hashlib.sha256(system_prompt.encode()).hexdigest()[:16]


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    return "`" * max(3, longest + 1)


def _over_cap(size: int, cap: int, *, partial: bool) -> PersonaRunError:
    amount = f"more than {size:,}" if partial else f"{size:,}"
    return PersonaRunError(
        f"The task and context come to {amount} characters after inlining the files they name; the cap is "
        f"{cap:,} (PERSONAS_MAX_CONTEXT_CHARS). Name fewer or smaller files, or let the persona find and read "
        "them itself."
    )


def inline_context(context: str, sandbox: ProjectFiles, *, cap: int | None = None, task_chars: int = 0) -> str:
    """Context text followed by the content of every file a line names, once each (blocking I/O).

    Lines naming a file the sandbox refuses (binary, too large, outside the root, secret) stay as
    text with a note saying why; all other lines stay as they are. A file named again is not read
    again. With ``cap`` (PERSONAS_MAX_CONTEXT_CHARS, of which the task takes ``task_chars``), the
    cap is enforced while inlining: the first file that takes the total over it stops the work
    with a :class:`PersonaRunError`, so a short context naming a big file many times never builds
    a huge prompt.
    """
    texts: list[str] = []
    files: list[str] = []
    named: set[str] = set()  # normalised names already handled
    inlined: set[str] = set()  # project paths already inlined
    noted: set[str] = set()  # a refused name is explained once
    used = task_chars + len(context)
    for line in context.splitlines():
        candidate = line.strip()
        if not candidate or len(candidate) > MAX_CONTEXT_LINE:
            texts.append(line)
            continue
        key = posixpath.normpath(candidate.replace("\\", "/"))
        if key in noted:  # refused before: explained once, not read again
            texts.append(line)
            continue
        if key in named:  # named again: inlined once
            texts.append(f"{line} (inlined below)")
            continue
        try:
            file = sandbox.read_text(candidate)
        except NotInProjectError:
            texts.append(line)
            continue
        except SandboxError as exc:
            noted.add(key)
            texts.append(f"{line}\n  (not inlined: {exc})" if _looks_like_path(candidate) else line)
            used += len(texts[-1]) - len(line)
            continue
        named.add(key)
        texts.append(f"{line} (inlined below)")
        if file.path in inlined:  # the same file under another spelling
            continue
        inlined.add(file.path)
        block = f"### File: {file.path}\n{data_block(file.path, file.text.rstrip())}"
        used += len(block)
        if cap is not None and used > cap:
            raise _over_cap(used, cap, partial=True)
        files.append(block)
    text = "\n".join(texts).strip()
    return "\n\n".join(([text] if text else []) + files)


def _looks_like_path(value: str) -> bool:
    return " " not in value and ("/" in value or "." in value)


MAX_LISTED_FILES = 300
MAX_LISTED_DISMISSALS = 40


def change_section(changes: ChangeSet) -> str:
    """The change under review: what to focus on, the changed files with their lines, the diff."""
    if changes.kind == "supplied":
        reads = "read_file and list_files show the files the client sent with the diff (and only those)."
    elif changes.head is None:
        reads = "read_file and list_files show the current working tree, which is what this change produced."
    elif changes.head == INDEX_HEAD:
        reads = "read_file and list_files show the staged version of every file (what would be committed)."
    else:
        reads = f"read_file and list_files show the files as of commit {changes.head[:12]}, the head of the range."
    listed = [f.describe() for f in changes.files[:MAX_LISTED_FILES]]
    if len(changes.files) > MAX_LISTED_FILES:
        listed.append(f"- … and {len(changes.files) - MAX_LISTED_FILES} more files")
    fence = _fence(changes.diff)
    diff = data_block("diff", f"{fence}diff\n{changes.diff.rstrip()}\n{fence}")
    return (
        f"# Change under review\nReview {changes.title()}. Focus on what the change adds or modifies and on what it "
        "breaks elsewhere; raise problems in unchanged code only when the change relies on them or makes them worse. "
        "For every finding in a file set `file` (relative to the project root) and `line` (and `end_line`) as "
        f"read_file numbers them, and cite team standards as always. {reads}\n\n"
        f"## Changed files ({len(changes.files)})\n" + ("\n".join(listed) or "(none: the change is empty)") + "\n\n"
        f"## Diff\n{diff}"
    )


def supplied_section(paths: list[str]) -> str:
    """The files a remote client sent: the only ones read_file and list_files see."""
    listed = [f"- {p}" for p in paths[:MAX_LISTED_FILES]]
    if len(paths) > MAX_LISTED_FILES:
        listed.append(f"- … and {len(paths) - MAX_LISTED_FILES} more (list_files shows them)")
    return (
        f"# Files sent by the client ({len(paths)})\nThe project is not on this server: read_file and list_files "
        "see only these files.\n" + ("\n".join(listed) or "(none: only the diff was sent)")
    )


def dismissed_section(dismissed: list[DismissedFinding]) -> str:
    lines = [
        f"- {d.title}" + (f" (in {d.file})" if d.file else "") + f": {' '.join(d.reason.split())[:300]}"
        for d in dismissed[:MAX_LISTED_DISMISSALS]
    ]
    return (
        "# Findings the team has dismissed\nThe team reviewed these earlier findings of yours and dismissed them as "
        "not applicable. Do not raise them, or the same pattern, again unless the code changed so that the reason "
        "no longer holds:\n" + "\n".join(lines)
    )


async def first_user_text(request: RunRequest, sandbox: ProjectFiles, limits: RunLimits) -> str:
    """The task and context of this turn; raises PersonaRunError when over PERSONAS_MAX_CONTEXT_CHARS."""
    heading = "# Follow-up request" if request.history else "# Task"
    task = request.task.strip()
    context = ""
    if request.context and request.context.strip():
        context = await asyncio.to_thread(
            inline_context, request.context, sandbox, cap=limits.max_context_chars, task_chars=len(task)
        )
    parts = [f"{heading}\n{task}"] + ([f"# Context\n{context}"] if context else [])
    if request.supplied_files is not None and not request.history:
        parts.append(supplied_section(sorted(request.supplied_files)))
    if request.changes is not None and not request.history:
        parts.append(change_section(request.changes))
    if request.dismissed and not request.history:
        parts.append(dismissed_section(request.dismissed))
    if request.history:
        parts.append(
            "Revise your review for this request and call submit_review again with the complete, updated "
            "review "
            "(not only the changes)."
        )
    text = "\n\n".join(parts)
    size = len(task) + len(context)  # what the cap measures at submit too (not our headings)
    if size > limits.max_context_chars:
        raise _over_cap(size, limits.max_context_chars, partial=False)
    return text


def extract_section(markdown: str, title: str) -> str | None:
    """The body of the first heading starting with ``title``, up to the next heading of its level."""
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^(#{1,6})\s+(.*)$", line)
        if match and match.group(2).strip().lower().startswith(title.lower()):
            level = len(match.group(1))
            body: list[str] = []
            for following in lines[i + 1 :]:
                heading = re.match(r"^(#{1,6})\s", following)
                if heading and len(heading.group(1)) <= level:
                    break
                body.append(following)
            return "\n".join(body).strip() or None
    return None
