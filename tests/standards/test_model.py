"""The real all-MiniLM-L6-v2 model on part of the engineering playbook."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from standards import IndexConfig, StandardsSource
from standards.index.chunker import SPECIAL_TOKENS, chunk_markdown, estimate_tokens
from standards.index.embedder import SentenceTransformerEmbedder
from tests.standards.conftest import IndexFactory

#: Folders copied whole, and folders of which only the top-level files are copied (keeps the test fast).
SUBSET = ["security", "source-control"]
SHALLOW = ["code-reviews"]

QUESTIONS = [
    ("How should I name my git branches?", "source-control/naming-branches.md"),
    ("Should we rebase or squash when merging pull requests?", "source-control/merge-strategies.md"),
    ("What may testers not do during a penetration test?", "security/rules-of-engagement.md"),
    ("Keep local config secrets out of git with .gitignore", "source-control/secrets-management.md"),
    ("Giving code review comments that are respectful and inclusive", "code-reviews/inclusion-in-code-review.md"),
]


def test_tokenizer_counts_and_estimate_is_conservative(playbook: Path) -> None:
    embedder = SentenceTransformerEmbedder()  # the tokenizer loads without torch
    assert embedder.max_tokens == 256
    assert embedder.dimension == 384
    for path in sorted((playbook / "security").rglob("*.md")):
        doc = chunk_markdown(path.read_text(encoding="utf-8"), count_tokens=embedder.count_tokens)
        for chunk in doc.chunks:
            real = embedder.count_tokens(chunk.embed_text)
            assert real + SPECIAL_TOKENS <= 256, (path, chunk.heading_path)
            assert estimate_tokens(chunk.embed_text) >= real * 0.9, (path, chunk.heading_path)
            assert chunk.tokens == real, (path, chunk.heading_path)  # the index sorts by it: exact


def test_the_chunkers_counts_are_the_tokenizers_also_for_split_sections(playbook: Path) -> None:
    """Small budgets split sections at lines, sentences and words, with overlap: each chunk's count
    (summed from its parts) is still what the model's tokenizer and the estimate count for its text."""
    embedder = SentenceTransformerEmbedder()
    for count in (embedder.count_tokens, estimate_tokens):
        for path in sorted((playbook / "security").rglob("*.md")):
            doc = chunk_markdown(path.read_text(encoding="utf-8"), count_tokens=count, max_tokens=48)
            assert [chunk.tokens for chunk in doc.chunks] == [count(chunk.embed_text) for chunk in doc.chunks], path


@pytest.mark.model
async def test_real_model_finds_the_right_file(
    playbook: Path, tmp_path: Path, real_embedder: SentenceTransformerEmbedder, make_index: IndexFactory
) -> None:
    root = tmp_path / "playbook"
    for folder in SUBSET:
        shutil.copytree(playbook / folder, root / folder)
    for folder in SHALLOW:
        (root / folder).mkdir(parents=True)
        for path in (playbook / folder).glob("*.md"):
            shutil.copy(path, root / folder / path.name)
    config = IndexConfig(sources=[StandardsSource(root=root, kind="project")], index_dir=tmp_path / "index")
    index = make_index(config, real_embedder)
    await index.start(watch=False)
    status = await index.wait_ready(timeout=100)
    assert status.state == "ready"
    for question, expected in QUESTIONS:
        response = await index.search(question, limit=3)
        files = [hit.file for hit in response.results]
        assert expected in files, (question, files)
    vector_only = make_index(
        config.model_copy(update={"search_mode": "vector"}),
        real_embedder,
        writer=False,
    )
    await vector_only.start()
    assert (await vector_only.wait_ready(timeout=60)).state == "ready"
    response = await vector_only.search(QUESTIONS[0][0], limit=3)
    assert QUESTIONS[0][1] in [hit.file for hit in response.results]
    assert all(0 < hit.score <= 1 for hit in response.results)


@pytest.mark.model
def test_single_text_fast_path_matches_encode(real_embedder: SentenceTransformerEmbedder) -> None:
    texts = ["How do we rotate secrets?", "Structured logging with correlation ids"]
    batch = real_embedder.embed(texts)
    for text, expected in zip(texts, batch, strict=True):
        single = real_embedder.embed([text])[0]
        assert max(abs(a - b) for a, b in zip(single, expected, strict=True)) < 1e-5
