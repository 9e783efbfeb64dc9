"""Markdown-aware chunking of standards (pure functions, no I/O).

A document is split into sections at ATX headings (``#`` … ``######``) that are not
inside ```` ``` ```` / ``~~~`` code fences. Every chunk carries its heading path (title
first); the text that gets embedded is the heading path followed by the chunk text.
Sections that do not fit the model's budget are split at block, line, sentence and, as a
last resort, word boundaries, with a small overlap between consecutive pieces.

Token counting is pluggable (``count_tokens``): the index passes the model's own
tokenizer when it has one. Without it, :func:`estimate_tokens` is used, a deliberately
conservative estimate (about one token per four characters of every word, one per
punctuation mark and one per non-ASCII character) that over-counts BERT WordPiece tokens
for English text, so chunks stay under the limit at the price of being a little smaller.
Setext headings (underlined with ``===``) are not recognised; standards use ATX headings.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from standards.frontmatter import normalize_tags, parse

log = logging.getLogger(__name__)

TokenCounter = Callable[[str], int]

#: Word-piece budget of all-MiniLM-L6-v2 (it truncates beyond this).
DEFAULT_MAX_TOKENS = 256
#: Tokens repeated from the end of one piece at the start of the next when a section is split.
DEFAULT_OVERLAP_TOKENS = 32
#: [CLS] and [SEP] added by the model to every input.
SPECIAL_TOKENS = 2

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_WORD = re.compile(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_]")
_TABLE_RULE = re.compile(r"^\s*\|?(\s*:?-+:?\s*\|)+\s*(:?-+:?\s*)?$")
_TABLE_RULE_DASHES = re.compile(r"-{4,}")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


@dataclass(frozen=True)
class Chunk:
    """A piece of a document ready to embed."""

    heading_path: tuple[str, ...]
    text: str
    #: Tokens of :attr:`embed_text` (special tokens excluded) as the chunker counted them while cutting
    #: (None: not known). The sum of its parts' counts, which is the count of the whole for tokenizers
    #: that split at whitespace first (WordPiece, :func:`estimate_tokens`), as the budget assumes.
    tokens: int | None = field(default=None, compare=False)

    @property
    def embed_text(self) -> str:
        """What the model sees: heading path, then the text."""
        return embed_text(self.heading_path, self.text)


@dataclass
class ParsedDocument:
    """Front matter metadata plus the chunks of one Markdown document."""

    title: str
    tags: list[str]
    metadata: dict[str, Any]
    chunks: list[Chunk]
    warnings: list[str] = field(default_factory=list)


def estimate_tokens(text: str) -> int:
    """Conservative word-piece count used when no tokenizer is available."""
    total = 0
    for piece in _WORD.findall(text):
        if piece[0].isascii() and (piece[0].isalnum() or piece[0] == "_"):
            total += max(1, math.ceil(len(piece) / 4))
        else:
            total += 1
    return total


def embed_text(heading_path: tuple[str, ...] | list[str], text: str) -> str:
    """Join the heading path and the text the way the index embeds them."""
    prefix = " > ".join(heading_path)
    return f"{prefix}\n\n{text}" if prefix else text


@dataclass
class _Section:
    path: tuple[str, ...]
    lines: list[str]
    top_level: int = 0  # level of the first heading in the path (1 = under an H1)


def split_sections(body: str) -> list[_Section]:
    """Split at ATX headings outside code fences; each section knows its heading path."""
    sections: list[_Section] = [_Section((), [])]
    stack: list[tuple[int, str]] = []
    fence: str | None = None
    for line in body.splitlines():
        fence_match = _FENCE.match(line)
        if fence is not None:
            if (
                fence_match
                and fence_match.group(1)[0] == fence[0]
                and len(fence_match.group(1)) >= len(fence)
                and not line.strip().lstrip(fence[0])
            ):
                fence = None
            sections[-1].lines.append(line)
            continue
        if fence_match:
            fence = fence_match.group(1)
            sections[-1].lines.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            title = _clean_heading(heading.group(2) or "")
            while stack and stack[-1][0] >= level:
                stack.pop()
            if title:
                stack.append((level, title))
            top = stack[0][0] if stack else 0
            sections.append(_Section(tuple(t for _, t in stack), [], top))
            continue
        sections[-1].lines.append(line)
    return sections


def _clean_heading(raw: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", raw)  # [text](link) -> text
    return re.sub(r"\s+", " ", text.replace("`", "").replace("**", "")).strip()


def _blocks(lines: list[str]) -> list[str]:
    """Blank-line separated blocks; a fenced code block stays one block."""
    blocks: list[str] = []
    current: list[str] = []
    fence: str | None = None
    for line in lines:
        fence_match = _FENCE.match(line)
        if fence is not None:
            current.append(line)
            if fence_match and fence_match.group(1)[0] == fence[0] and not line.strip().lstrip(fence[0]):
                fence = None
            continue
        if fence_match:
            fence = fence_match.group(1)
            current.append(line)
            continue
        if not line.strip():
            if current:
                blocks.append("\n".join(current).strip("\n"))
                current = []
            continue
        current.append(_TABLE_RULE_DASHES.sub("---", line.rstrip()) if _TABLE_RULE.match(line) else line.rstrip())
    if current:
        blocks.append("\n".join(current).strip("\n"))
    return [b for b in blocks if b.strip()]


@dataclass(frozen=True)
class _Unit:
    text: str
    sep: str  # separator placed before this unit when it follows another
    tokens: int


def _units(block: str, budget: int, count: TokenCounter) -> list[_Unit]:
    tokens = count(block)
    if tokens <= budget:
        return [_Unit(block, "\n\n", tokens)]
    units: list[_Unit] = []
    for i, line in enumerate(ln for ln in block.split("\n") if ln.strip()):
        sep = "\n\n" if i == 0 else "\n"
        for j, piece in enumerate(_split_line(line, budget, count)):
            units.append(_Unit(piece, sep if j == 0 else " ", count(piece)))
    return units


def _split_line(line: str, budget: int, count: TokenCounter) -> list[str]:
    if count(line) <= budget:
        return [line]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(line):
        if count(sentence) <= budget:
            pieces.append(sentence)
            continue
        current: list[str] = []
        for word in _hard_split(sentence.split(" "), budget, count):
            if current and count(" ".join([*current, word])) > budget:
                pieces.append(" ".join(current))
                current = []
            current.append(word)
        if current:
            pieces.append(" ".join(current))
    return [p for p in pieces if p.strip()]


def _hard_split(words: list[str], budget: int, count: TokenCounter) -> list[str]:
    """Words longer than the budget are cut into slices of ``budget`` characters (≤ 1 token each)."""
    out: list[str] = []
    for word in words:
        if count(word) <= budget:
            out.append(word)
        else:
            out.extend(word[i : i + budget] for i in range(0, len(word), budget))
    return out


def _join(units: list[_Unit]) -> str:
    return "".join(u.text if i == 0 else u.sep + u.text for i, u in enumerate(units)).strip()


def _pack(units: list[_Unit], budget: int, overlap: int) -> list[tuple[str, int]]:
    """Greedily pack units into pieces (text, tokens) within budget; new pieces repeat a tail of the previous."""
    pieces: list[tuple[str, int]] = []
    current: list[_Unit] = []
    used = 0
    for unit in units:
        if current and used + unit.tokens > budget:
            pieces.append((_join(current), used))
            tail: list[_Unit] = []
            tail_tokens = 0
            for prev in reversed(current[1:]):  # never repeat a whole piece
                if tail_tokens + prev.tokens > min(overlap, budget - unit.tokens):
                    break
                tail.insert(0, prev)
                tail_tokens += prev.tokens
            current, used = tail, tail_tokens
        current.append(unit)
        used += unit.tokens
    if current:
        pieces.append((_join(current), used))
    return pieces


def chunk_markdown(
    text: str,
    *,
    default_title: str = "",
    count_tokens: TokenCounter = estimate_tokens,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
) -> ParsedDocument:
    """Parse front matter and cut a Markdown document into model-sized chunks.

    ``default_title`` (e.g. derived from the file name) is used when neither the front
    matter nor an H1 heading gives a title. Each chunk's ``embed_text`` fits in
    ``max_tokens`` as counted by ``count_tokens`` (special tokens included).
    """
    front = parse(text)
    metadata, body = front.meta, front.body
    warnings = [front.error] if front.error else []
    sections = split_sections(body)
    fm_title = metadata.get("title")
    h1 = next((s.path[0] for s in sections if s.path and s.top_level == 1), None)
    title = str(fm_title).strip() if isinstance(fm_title, str | int | float) and str(fm_title).strip() else ""
    title = title or h1 or default_title
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section in sections:
        path = section.path
        if title and (not path or path[0] != title) and not (h1 and path and path[0] == h1):
            path = (title, *path)
        prefix_tokens = count_tokens(embed_text(path, "")) if path else 0
        budget = max_tokens - SPECIAL_TOKENS - prefix_tokens - (1 if path else 0)
        if budget < 16:  # absurdly long heading path: keep only the last heading
            path = path[-1:]
            prefix_tokens = count_tokens(embed_text(path, ""))
            budget = max(16, max_tokens - SPECIAL_TOKENS - prefix_tokens - 1)
        units = [u for block in _blocks(section.lines) for u in _units(block, budget, count_tokens)]
        for piece, tokens in _pack(units, budget, overlap_tokens):
            key = " ".join(embed_text(path, piece).split())
            if not piece.strip() or key in seen:
                continue
            seen.add(key)
            chunks.append(Chunk(path, piece, prefix_tokens + tokens))
    tags = normalize_tags(metadata.get("tags"))
    return ParsedDocument(title=title, tags=tags, metadata=metadata, chunks=chunks, warnings=warnings)
