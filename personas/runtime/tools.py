"""The tools a run offers the model: input models (their schemas are what the model sees) and execution.

Every failure a model can cause (unknown tool, malformed input, sandbox refusal, bad filter) comes
back as an error tool result it can act on; only bugs raise.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from personas.model import ALL_RUN_TOOLS, PersonaDefinition
from personas.runtime.framing import data_block
from personas.runtime.models import Phase
from personas.runtime.review import SERVER_SET_KEY, ReviewSubmission
from personas.runtime.sandbox import ProjectSandbox, SandboxError
from personas.runtime.toolbox import ChangeStandards, ProjectFiles, RunToolbox, citation_ref
from standards.control_chars import one_line

if TYPE_CHECKING:
    from anthropic.types import ToolParam

LIST_FILES_LIMIT = 200
SEARCH_TEXT_CHARS = 2_000
KEBAB_SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class ToolError(Exception):
    """A tool call the model can fix; the message goes back to it as an error result."""


class SearchStandardsInput(BaseModel):
    """Search the team's engineering standards (semantic + keyword). Each result has a `ref`
    ('file#heading') to cite in a finding's standard_refs. Search once per concern before judging it."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=500, description="A few words, one concern, e.g. 'JWT validation'.")
    domain: str | None = Field(
        default=None,
        description="Only this standards domain (first-level folder), e.g. 'security'. Omit for all.",
    )
    limit: int = Field(default=5, ge=1, le=10, description="How many chunks to return (1-10).")
    paths: list[str] | None = Field(
        default=None,
        max_length=100,
        description="Project files this search is about, e.g. ['api/users.py']: rules scoped to other paths are "
        "left out. Omit to use the files under review.",
    )


class ListFilesInput(BaseModel):
    """List project files matching a glob relative to the project root. '*' stays within a folder,
    '**' spans folders, '{a,b}' gives alternatives: 'src/**/*.py', '**/*.{yml,yaml}'. Skips .git,
    node_modules, virtualenvs and caches; returns at most 200 paths."""

    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(min_length=1, max_length=300, description="Glob relative to the project root.")


class ReadFileInput(BaseModel):
    """Read a UTF-8 text file of the project, with line numbers (cite them as 'file:line'). Paths are
    relative to the project root; '..', absolute paths, symlinks out of the project, binary files,
    secret files (.env, keys) and files over the size cap are refused."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=1000, description="Relative path, e.g. 'api/login.py'.")
    start_line: int | None = Field(default=None, ge=1, description="First line to return (1-based).")
    end_line: int | None = Field(default=None, ge=1, description="Last line to return (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> ReadFileInput:
        if self.start_line is not None and self.end_line is not None and self.end_line < self.start_line:
            raise ValueError("end_line must be >= start_line")
        return self


class ProposeStandardInput(BaseModel):
    """Store a proposed team standard as a DRAFT for human approval (nothing reaches the standards
    until a human approves). Only for a pattern seen in two or more places, or when asked. Never
    include secrets, credentials, internal hostnames, IPs or personal data; use placeholders."""

    model_config = ConfigDict(extra="forbid")

    domain: str = Field(description="One of your domains, e.g. 'security'.")
    topic: str = Field(
        pattern=KEBAB_SLUG,
        max_length=80,
        description="kebab-case slug naming the standard, e.g. 'jwt-validation'.",
    )
    title: str = Field(min_length=1, max_length=200, description="Human title of the standard.")
    content: str = Field(
        min_length=1,
        max_length=20_000,
        description="Markdown with the headings Summary, Context, The rule, Examples, Anti-patterns, "
        "Checklist, Related.",
    )
    rationale: str = Field(min_length=1, max_length=4_000, description="Why: the locations you read that motivated it.")


SubmitReviewInput = ReviewSubmission

INPUT_MODELS: dict[str, type[BaseModel]] = {
    "search_standards": SearchStandardsInput,
    "list_files": ListFilesInput,
    "read_file": ReadFileInput,
    "propose_standard": ProposeStandardInput,
    "submit_review": SubmitReviewInput,
}
#: Said with every search in a review of a change that edits standards or rule files: they are left out.
CHANGED_STANDARDS = (
    "Not searched: {names}, which the change under review edits. Their text is the change's own, not yet "
    "accepted by the team: review it in the diff like the rest of the change, judge the change against the "
    "team's standards above, and report an edit that weakens or replaces a team standard."
)
SUBMIT_DESCRIPTION = "Submit your final review. Call it exactly once, last: it ends the run."


def _clean_schema(node: Any, defs: dict[str, Any]) -> Any:
    """Inline ``$ref``s, drop pydantic's titles and null defaults, collapse ``X | None`` to ``X``, leave out
    the fields agent-personas sets itself (SERVER_SET)."""
    if isinstance(node, list):
        return [_clean_schema(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _clean_schema(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options and len(options) == 2:
        (other,) = (o for o in options if o != {"type": "null"})
        merged = {k: v for k, v in node.items() if k not in ("anyOf", "default")}
        return _clean_schema({**other, **merged}, defs)
    cleaned: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "$defs") or (key == "default" and value is None):
            continue
        if key == "properties":  # keys here are property names, not schema keywords
            cleaned[key] = {
                name: _clean_schema(sub, defs) for name, sub in value.items() if not sub.get(SERVER_SET_KEY)
            }
        else:
            cleaned[key] = _clean_schema(value, defs)
    return cleaned


def tool_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema()
    schema = _clean_schema(raw, raw.get("$defs", {}))
    schema.pop("description", None)
    return dict(schema)


def tool_params(names: list[str]) -> list[ToolParam]:
    """Definitions of the offered tools, in the fixed order of ALL_RUN_TOOLS."""
    return list(_tool_params(frozenset(names)))


@functools.cache
def _tool_params(names: frozenset[str]) -> tuple[ToolParam, ...]:
    """Schemas are derived from constant models: build each set once per process (~7 ms)."""
    params: list[ToolParam] = []
    for name in ALL_RUN_TOOLS:
        if name in names:
            model = INPUT_MODELS[name]
            description = SUBMIT_DESCRIPTION if name == "submit_review" else " ".join((model.__doc__ or "").split())
            params.append({"name": name, "description": description, "input_schema": tool_schema(model)})
    return tuple(params)


@dataclass
class ToolResult:
    content: str
    is_error: bool = False


def _short(value: object, limit: int = 80) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _validation_summary(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors()[:8]:
        loc = ".".join(str(p) for p in err["loc"]) or "input"
        problems.append(f"{loc}: {err['msg']}")
    return "; ".join(problems)


class RunTools:
    """Executes the model's tool calls for one run and keeps what they produced."""

    def __init__(
        self, persona: PersonaDefinition, job_id: str, toolbox: RunToolbox, *, files: ProjectFiles | None = None
    ) -> None:
        self.persona = persona
        self.job_id = job_id
        self.toolbox = toolbox
        self.sandbox: ProjectFiles = files or ProjectSandbox(
            toolbox.project_root, max_file_bytes=toolbox.limits.max_file_bytes, denied=toolbox.denied_paths
        )
        self.offered: list[str] = [name for name in ALL_RUN_TOOLS if name in persona.tools]
        self.proposals: list[dict[str, Any]] = []
        self.review: ReviewSubmission | None = None
        self.review_paths: list[str] = []
        """Files under review (set by the run): searches are scoped to them unless the model names others."""
        self.change_standards = ChangeStandards(unaccepted=[], edited=[])
        """Standards and rule files the change under review edits (set by the run): searches leave them out."""
        self._params = tool_params(self.offered)

    def params(self) -> list[ToolParam]:
        return self._params

    def describe(self, name: str, raw: object) -> tuple[Phase | None, str]:
        """Progress phase and message for a call (phase None: no change)."""
        args = raw if isinstance(raw, dict) else {}
        if name not in self.offered:
            return None, f"Unknown tool requested: {_short(name)}"
        if name == "search_standards":
            return "searching", f"Searching standards: '{_short(args.get('query', ''))}'"
        if name == "list_files":
            return "searching", f"Listing files: {_short(args.get('pattern', ''))}"
        if name == "read_file":
            lines = (
                f" (lines {args.get('start_line') or 1}-{args.get('end_line') or 'end'})"
                if (args.get("start_line") or args.get("end_line"))
                else ""
            )
            return "analyzing", f"Reading {_short(args.get('path', ''))}{lines}"
        if name == "propose_standard":
            return (
                "generating",
                f"Drafting a proposed standard: {_short(args.get('domain'))}/{_short(args.get('topic'))}",
            )
        return "generating", "Writing the review"

    async def run(self, name: str, raw: object) -> ToolResult:
        if name not in self.offered:
            return ToolResult(
                f"Unknown tool {name!r}. The tools available to you are: {', '.join(self.offered)}.",
                is_error=True,
            )
        if not isinstance(raw, dict):
            return ToolResult(
                f"The input of {name} must be a JSON object matching its input_schema; got {type(raw).__name__}.",
                is_error=True,
            )
        try:
            args = INPUT_MODELS[name].model_validate(raw)
        except ValidationError as exc:
            return ToolResult(
                f"Invalid input for {name}: {_validation_summary(exc)}. Fix the arguments and call it again.",
                is_error=True,
            )
        try:
            return ToolResult(await self._dispatch(args))
        except (ToolError, SandboxError) as exc:
            return ToolResult(str(exc), is_error=True)

    async def _dispatch(self, args: BaseModel) -> str:
        if isinstance(args, SearchStandardsInput):
            return await self._search(args)
        if isinstance(args, ListFilesInput):
            return await self._list_files(args)
        if isinstance(args, ReadFileInput):
            return await self._read_file(args)
        if isinstance(args, ProposeStandardInput):
            return await self._propose(args)
        if isinstance(args, ReviewSubmission):
            self.review = args
            return "Review received; the run is complete."
        raise TypeError(f"no handler for {type(args).__name__}")

    async def _search(self, args: SearchStandardsInput) -> str:
        if self.toolbox.search is None:
            raise ToolError(
                "The standards index is unavailable in this run. Continue without it: judge on the code you "
                "read, and where you would cite a standard say 'no team standard' and name an industry "
                "reference."
            )
        paths = args.paths if args.paths is not None else self.review_paths
        try:
            response = await self.toolbox.search.search(
                args.query,
                domain=args.domain,
                limit=args.limit,
                paths=paths or None,
                unaccepted=self.change_standards.unaccepted or None,
            )
        except ValueError as exc:
            raise ToolError(f"Search refused: {exc}") from None
        where = f" in domain '{args.domain}'" if args.domain else ""
        edited = self.change_standards.edited
        names = ", ".join(one_line(p) for p in edited[:10]) + (
            f" and {len(edited) - 10} more" if len(edited) > 10 else ""
        )
        left_out = "\n\n" + CHANGED_STANDARDS.format(names=names) if edited else ""
        if not response.results:
            return (
                f"No standards matched '{args.query}'{where}. Try other words or drop the domain filter; if "
                "no "
                "team standard covers the issue, say 'no team standard' and cite an industry reference." + left_out
            )
        blocks = [f"{len(response.results)} standards chunks for '{args.query}'{where}:"]
        for i, hit in enumerate(response.results, start=1):
            text = hit.text if len(hit.text) <= SEARCH_TEXT_CHARS else hit.text[:SEARCH_TEXT_CHARS] + " […]"
            tags = f", tags: {', '.join(hit.tags)}" if hit.tags else ""
            scope = f", governs {', '.join(hit.paths)}" if hit.paths else ""
            ref = one_line(citation_ref(hit))
            blocks.append(
                f"[{i}] ref: {ref}\n(domain {hit.domain}, {hit.source}{scope}, score {hit.score:.2f}{tags})\n"
                + f"{data_block(ref, text.strip())}"
            )
        return "\n\n".join(blocks) + left_out

    async def _list_files(self, args: ListFilesInput) -> str:
        matches, total = await asyncio.to_thread(self.sandbox.list_files, args.pattern, limit=LIST_FILES_LIMIT)
        if not matches:
            hint = (
                f" Patterns without '/' only match the top folder; try '**/{args.pattern}'."
                if "/" not in args.pattern and "**" not in args.pattern
                else " Try a broader pattern such as '**/*'."
            )
            return f"No files match {args.pattern!r}.{hint}"
        more = f"\n… and {total - len(matches)} more; narrow the pattern." if total > len(matches) else ""
        listing = data_block(f"list_files {args.pattern}", "\n".join(matches))
        return f"{total} files match {args.pattern!r}:\n{listing}{more}"

    async def _read_file(self, args: ReadFileInput) -> str:
        file = await asyncio.to_thread(self.sandbox.read_text, args.path)
        lines = file.text.splitlines()
        total = len(lines)
        if total == 0:
            return f"{file.path} is empty."
        start = args.start_line or 1
        if start > total:
            raise ToolError(f"{file.path} has {total} lines; start_line {start} is past the end.")
        end = min(args.end_line or total, total)
        width = len(str(end))
        body = "\n".join(f"{n:>{width}} | {lines[n - 1]}" for n in range(start, end + 1))
        return f"{one_line(file.path)} (lines {start}-{end} of {total}):\n{data_block(file.path, body)}"

    async def _propose(self, args: ProposeStandardInput) -> str:
        if self.toolbox.proposals is None:
            raise ToolError(
                "Proposals cannot be stored in this run. Describe the proposed standard in your review "
                "summary "
                "instead, and leave proposed_standards empty."
            )
        if args.domain not in self.persona.domains:
            raise ToolError(
                f"domain {args.domain!r} is not one of yours; propose into: {', '.join(self.persona.domains)}."
            )
        try:
            proposal_id = await self.toolbox.proposals.create_draft(
                domain=args.domain,
                topic=args.topic,
                title=args.title,
                content=args.content,
                rationale=args.rationale,
                proposed_by=self.persona.id,
                job_id=self.job_id,
            )
        except ValueError as exc:
            raise ToolError(f"The proposal was refused: {exc}") from None
        self.proposals = [p for p in self.proposals if p["id"] != proposal_id]
        self.proposals.append({"id": proposal_id, "domain": args.domain, "topic": args.topic, "title": args.title})
        return (
            f"Draft proposal stored with id {proposal_id} ({args.domain}/{args.topic}); a human will approve "
            "it or "
            "ask for changes. List this id in submit_review's proposed_standards."
        )
