"""Unit tests of the Markdown chunker (pure functions)."""

from __future__ import annotations

import pytest

from standards.index.chunker import (
    SPECIAL_TOKENS,
    chunk_markdown,
    embed_text,
    estimate_tokens,
    split_sections,
)


def words(n: int, prefix: str = "w") -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def test_front_matter_is_metadata_not_text() -> None:
    doc = chunk_markdown("---\ntitle: Caching\ntags: [Perf, cache, perf]\nversion: 2\n---\n# Caching\n\nCache rules.\n")
    assert doc.title == "Caching"
    assert doc.tags == ["perf", "cache"]
    assert doc.metadata["version"] == 2
    assert doc.warnings == []
    assert [c.text for c in doc.chunks] == ["Cache rules."]
    assert all("version:" not in c.embed_text for c in doc.chunks)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("---\ntags: [unclosed\n---\n# T\n\nBody text.\n", "malformed front matter"),
        ("---\n- just\n- a list\n---\n# T\n\nBody text.\n", "not a mapping"),
    ],
)
def test_malformed_front_matter_warns_and_is_dropped(raw: str, reason: str) -> None:
    doc = chunk_markdown(raw)
    assert doc.metadata == {}
    assert doc.tags == []
    assert len(doc.warnings) == 1
    assert reason in doc.warnings[0]
    assert [c.text for c in doc.chunks] == ["Body text."]


@pytest.mark.parametrize("fence", ["```", "~~~", "````"])
def test_headings_inside_code_fences_are_not_headings(fence: str) -> None:
    code = f"{fence}bash\n# install it\npip install x\n## not a heading\n{fence}"
    text = f"# Guide\n\n## Setup\n\n{code}\n\nAfter the code.\n"
    doc = chunk_markdown(text)
    paths = {c.heading_path for c in doc.chunks}
    assert paths == {("Guide", "Setup")}
    joined = "\n".join(c.text for c in doc.chunks)
    assert "# install it" in joined
    assert "## not a heading" in joined
    assert "After the code." in joined


def test_heading_path_title_and_intro() -> None:
    text = "# Title\n\nIntro paragraph.\n\n## A\n\nText a.\n\n### A1\n\nText a1.\n\n## B\n\nText b.\n"
    doc = chunk_markdown(text)
    assert [(c.heading_path, c.text) for c in doc.chunks] == [
        (("Title",), "Intro paragraph."),
        (("Title", "A"), "Text a."),
        (("Title", "A", "A1"), "Text a1."),
        (("Title", "B"), "Text b."),
    ]
    assert doc.chunks[2].embed_text == "Title > A > A1\n\nText a1."


def test_title_from_front_matter_or_default_prefixes_paths() -> None:
    doc = chunk_markdown("Preamble.\n\n## Only H2\n\nBody.\n", default_title="Fallback")
    assert doc.title == "Fallback"
    assert [c.heading_path for c in doc.chunks] == [("Fallback",), ("Fallback", "Only H2")]
    doc = chunk_markdown("---\ntitle: From FM\n---\n## Section\n\nBody.\n")
    assert doc.chunks[0].heading_path == ("From FM", "Section")


def test_heading_markup_is_cleaned() -> None:
    sections = split_sections("# The `rule` **now** ##\n\n## [Link](http://x) text\n")
    assert [s.path for s in sections[1:]] == [("The rule now",), ("The rule now", "Link text")]


def test_no_empty_or_duplicate_chunks() -> None:
    text = "# T\n\n## Empty\n\n## Same\n\nRepeated.\n\n## Same\n\nRepeated.\n\n## Other\n\n\n\n"
    doc = chunk_markdown(text)
    assert [c.text for c in doc.chunks] == ["Repeated."]
    assert all(c.text.strip() for c in doc.chunks)


def test_long_section_split_within_budget_with_overlap() -> None:
    sentences = " ".join(f"Sentence number {i} talks about topic {i}." for i in range(200))
    text = f"# Long\n\n## Body\n\n{sentences}\n"
    doc = chunk_markdown(text, max_tokens=64, overlap_tokens=16)
    assert len(doc.chunks) > 5
    for chunk in doc.chunks:
        assert chunk.heading_path == ("Long", "Body")
        assert estimate_tokens(chunk.embed_text) + SPECIAL_TOKENS <= 64
    for first, second in zip(doc.chunks, doc.chunks[1:], strict=False):
        last_sentence = first.text.split(". ")[-1]
        assert second.text.startswith(last_sentence), (first.text, second.text)
    # everything is still covered
    covered = " ".join(c.text for c in doc.chunks)
    assert all(f"Sentence number {i} " in covered for i in range(200))


def test_paragraphs_packed_and_split_at_block_boundaries() -> None:
    paragraphs = [words(20, prefix=f"p{i}x") for i in range(6)]
    doc = chunk_markdown("# T\n\n" + "\n\n".join(paragraphs), max_tokens=130, overlap_tokens=0)
    assert len(doc.chunks) >= 2
    for chunk in doc.chunks:
        for block in chunk.text.split("\n\n"):
            assert block in paragraphs


def test_giant_word_and_table_rule_are_cut() -> None:
    table = "| a | b |\n|" + "-" * 600 + "|" + "-" * 600 + "|\n| 1 | 2 |\n"
    doc = chunk_markdown(f"# T\n\n{table}\n\n{'x' * 3000}\n", max_tokens=64)
    assert "|---|---|" in doc.chunks[0].text
    for chunk in doc.chunks:
        assert estimate_tokens(chunk.embed_text) + SPECIAL_TOKENS <= 64


def test_custom_counter_is_used() -> None:
    calls: list[str] = []

    def count(text: str) -> int:
        calls.append(text)
        return len(text.split())

    doc = chunk_markdown("# T\n\n" + words(100), count_tokens=count, max_tokens=40, overlap_tokens=5)
    assert calls
    assert all(count(c.embed_text) + SPECIAL_TOKENS <= 40 for c in doc.chunks)


def test_embed_text_without_headings() -> None:
    assert embed_text((), "x") == "x"
    doc = chunk_markdown("Just text, no headings.")
    assert [(c.heading_path, c.text) for c in doc.chunks] == [((), "Just text, no headings.")]


def test_estimate_is_conservative_for_plain_words() -> None:
    assert estimate_tokens("hello, world") == 5  # hello(2) ,(1) world(2)
    assert estimate_tokens("日本") == 2
