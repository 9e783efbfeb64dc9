"""Conversions that turn the public evaluation corpora into Markdown (bench/corpora.py)."""

from __future__ import annotations

from bench.corpora import adoc_to_markdown, erb_page_to_markdown
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
