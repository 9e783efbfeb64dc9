"""Conversions that turn the public evaluation corpora into Markdown (bench/corpora.py)."""

from __future__ import annotations

from bench.corpora import adoc_to_markdown, erb_page_to_markdown, load_corpora
from standards.index.chunker import chunk_markdown


def test_erb_page_title_becomes_the_h1_and_the_chunk_heading_path() -> None:
    page = (
        "---\ntitle: How to store and query logs\nreview_in: 6 months\n---\n"
        "# <%= current_page.data.title %>\n\n## Log shipping\n\nShip them.\n"
    )
    markdown = erb_page_to_markdown(page)
    assert "# How to store and query logs\n" in markdown
    assert "<%=" not in markdown
    chunks = chunk_markdown(markdown).chunks
    assert [c.heading_path for c in chunks] == [("How to store and query logs", "Log shipping")]


def test_erb_page_without_front_matter_is_left_as_it_is() -> None:
    page = "# Plain\n\ntext <%= other %>\n"
    assert erb_page_to_markdown(page) == page


def test_adoc_headings_and_rule_levels_become_markdown() -> None:
    converted = adoc_to_markdown("== {MUST} use JSON\n----\ncode\n----\n")
    assert converted == "## MUST use JSON\n```\ncode\n```\n"


def test_question_splits_follow_the_declared_rule_in_every_batch() -> None:
    """Odd ids tune, even ids judge, in batch 1 and in batch 2 alike; batch 2 continues the numbering
    and its process is declared in the manifest (bench/data/corpora/README.md)."""
    external = [c for c in load_corpora() if c.name != "engineering-playbook"]
    assert len(external) >= 4
    for corpus in external:
        numbers = [int(q.id.removeprefix("q")) for q in corpus.questions]
        assert numbers == list(range(1, len(numbers) + 1)), corpus.name
        for number, q in zip(numbers, corpus.questions, strict=True):
            assert q.split == ("tune" if number % 2 else "judge"), (corpus.name, q.id)
        batches = [q.batch for q in corpus.questions]
        assert batches == sorted(batches) and set(batches) == {1, 2}, corpus.name
        assert corpus.manifest["written_from_batch_2"], corpus.name
