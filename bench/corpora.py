"""Evaluation corpora for the search bench: where their texts are, their questions, and metrics.

Each corpus nobody on this project wrote has a folder ``bench/data/corpora/<name>/`` with a
``corpus.json``: the public source (repository, commit, license), which files form the corpus,
how they are converted, and the questions (each with its gold file(s), its split, ``tune``
or ``judge``, and its batch: 1, or 2 for those written later as ``written_from_batch_2`` says).
The corpus *texts* are not committed (fetched material stays out of this repo):
``bench/prepare_corpora.py`` writes them from a git checkout of the pinned commit into the
corpora folder (``$PERSONAS_BENCH_CORPORA``, default ``~/.cache/agent-personas/bench-corpora``).
The engineering playbook (``../shared/corpus``) is one more corpus; its questions were written
while reading its files, so they are all ``tune``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data"
SHARED_CORPUS = REPO.parent / "shared" / "corpus"


def corpora_dir() -> Path:
    """Folder holding the prepared corpus texts, one sub-folder per corpus."""
    configured = os.environ.get("PERSONAS_BENCH_CORPORA")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "agent-personas" / "bench-corpora"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    files: tuple[str, ...]
    split: str
    #: 1: the first questions; 2: the second batch (``written_from_batch_2`` in the manifest)
    batch: int = 1


@dataclass(frozen=True)
class Corpus:
    name: str
    root: Path
    questions: tuple[Question, ...]
    manifest: dict[str, Any]

    @property
    def available(self) -> bool:
        return self.root.is_dir() and any(self.root.rglob("*.md"))


def _questions(items: list[dict[str, Any]], default_split: str) -> tuple[Question, ...]:
    return tuple(
        Question(
            id=str(q.get("id", i)),
            question=str(q["question"]),
            files=tuple(q["files"]),
            split=str(q.get("split", default_split)),
            batch=int(q.get("batch", 1)),
        )
        for i, q in enumerate(items, start=1)
        if q.get("question") and q.get("files")
    )


def load_corpora(names: list[str] | None = None) -> list[Corpus]:
    """The external corpora (sorted by name), then the playbook."""
    found: list[Corpus] = []
    for manifest_path in sorted((DATA / "corpora").glob("*/corpus.json")):
        name = manifest_path.parent.name
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        found.append(Corpus(name, corpora_dir() / name, _questions(manifest["questions"], "judge"), manifest))
    playbook = DATA / "playbook_questions.json"
    if playbook.is_file():
        data = json.loads(playbook.read_text(encoding="utf-8"))
        items = data["questions"] if isinstance(data, dict) else data
        root = SHARED_CORPUS / "engineering-playbook"
        found.append(Corpus("engineering-playbook", root, _questions(items, "tune"), {"license": "CC BY 4.0"}))
    return [c for c in found if names is None or c.name in names]


# ----------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Quality:
    n: int
    r1: float
    r5: float
    mrr10: float

    def row(self) -> str:
        return f"R@1 {self.r1:.3f}  R@5 {self.r5:.3f}  MRR@10 {self.mrr10:.3f}  (n={self.n})"


def score_rankings(rankings: list[list[str]], questions: list[Question]) -> Quality:
    """Recall@1, Recall@5 and MRR@10 over files: a question is found at the first gold file's rank."""
    r1 = r5 = 0
    mrr = 0.0
    for files, q in zip(rankings, questions, strict=True):
        gold = set(q.files)
        rank = next((i for i, f in enumerate(files[:10], start=1) if f in gold), None)
        if rank is not None:
            r1 += rank == 1
            r5 += rank <= 5
            mrr += 1.0 / rank
    n = max(1, len(questions))
    return Quality(len(questions), r1 / n, r5 / n, mrr / n)


def unique_files(files: list[str]) -> list[str]:
    seen: list[str] = []
    for f in files:
        if f not in seen:
            seen.append(f)
    return seen


# ----------------------------------------------------------------------------- AsciiDoc → Markdown

_ADOC_HEADING = re.compile(r"^(=+)\s+(.*)$")
_ADOC_ATTR = re.compile(r"\{(MUST|SHOULD|MAY|MUST-SHOULD-MAY|Should|Must|May)\}")


def adoc_to_markdown(text: str) -> str:
    """Headings, rule-level attributes and listing blocks of AsciiDoc, as Markdown."""
    out: list[str] = []
    in_block = False
    for line in text.splitlines():
        if line.strip() == "----":
            in_block = not in_block
            out.append("```")
            continue
        if in_block:
            out.append(line)
            continue
        match = _ADOC_HEADING.match(line)
        heading = "#" * len(match.group(1)) + " " + match.group(2) if match else line
        out.append(_ADOC_ATTR.sub(lambda m: m.group(1).upper(), heading))
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- Middleman ERB pages → Markdown

_ERB_TITLE = re.compile(r"<%=\s*current_page\.data\.title\s*%>")
_FRONT_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)


def erb_page_to_markdown(text: str) -> str:
    """A Middleman ``.html.md.erb`` page as Markdown: the ERB title expression becomes the page title.

    The pages open with front matter holding ``title:`` and an H1 of ``<%= current_page.data.title %>``,
    which the site renders as the title; other ERB is left as it is.
    """
    match = _FRONT_TITLE.search(text.split("\n---", 1)[0]) if text.startswith("---") else None
    title = match.group(1).strip("\"'") if match else ""
    return _ERB_TITLE.sub(lambda _: title, text)
