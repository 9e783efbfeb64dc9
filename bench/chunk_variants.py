"""Index-side variants for the quality bench: other chunk sizes, overlaps and chunk headers.

    python -m bench.quality_bench --chunking tokens-192 --fast --split tune

The server chunks with :func:`standards.index.chunker.chunk_markdown` at the model's budget (256
word pieces), 32 tokens of overlap, and prefixes each chunk's embedded and full-text text with its
heading path, document title first ("title > section > subsection"). A variant swaps one of those
choices in this process only (the bench builds its own indexes, in a folder of their own), so it can
be judged before anyone changes the product.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import standards.index.chunker as chunker
import standards.index.indexer as indexer
from standards.index.embedder import Embedder, make_embedder

VARIANTS = (
    "tokens-128",
    "tokens-192",
    "overlap-0",
    "overlap-64",
    "no-heading-path",
    "leaf-heading",
    "bm25-headings-x2",
)


def apply(variant: str) -> None:
    """Patch this process's chunking as ``variant`` says (the bench's own process only)."""
    if variant not in VARIANTS:
        raise SystemExit(f"unknown --chunking {variant!r}: use one of {', '.join(VARIANTS)}")
    original_chunk = chunker.chunk_markdown
    original_embed = chunker.embed_text
    kind, _, value = variant.partition("-")

    def sized(**override: int) -> Callable[..., Any]:
        def chunk(text: str, **kw: Any) -> Any:
            return original_chunk(text, **{**kw, **override})

        return chunk

    if kind == "tokens":
        vars(indexer)["chunk_markdown"] = sized(max_tokens=int(value))
    elif kind == "overlap":
        vars(indexer)["chunk_markdown"] = sized(overlap_tokens=int(value))
    elif variant == "no-heading-path":
        chunker.embed_text = _text_only
    elif variant == "leaf-heading":
        chunker.embed_text = _leaf_heading
    else:  # bm25-headings-x2: the full-text index sees the heading path twice, the model once
        _patch_search_text(lambda path, text: original_embed(path, text) + ("\n" + " > ".join(path) if path else ""))


def _text_only(heading_path: tuple[str, ...] | list[str], text: str) -> str:
    return text


def _leaf_heading(heading_path: tuple[str, ...] | list[str], text: str) -> str:
    return f"{heading_path[-1]}\n\n{text}" if heading_path else text


def _patch_search_text(make: Callable[[Any, str], str]) -> None:
    original_write = indexer.Indexer._write

    async def write(self: indexer.Indexer, prepared: list[Any], *args: Any, **kw: Any) -> None:
        rows_by_doc = {p.sf.key: p for p in prepared}
        original_replace = self._store.replace_docs

        async def replace_docs(docs: list[str], rows: list[dict[str, Any]]) -> None:
            for row in rows:
                chunk = rows_by_doc[row["doc"]].parsed.chunks[row["chunk_index"]]
                row["search_text"] = make(chunk.heading_path, chunk.text)
            await original_replace(docs, rows)

        self._store.replace_docs = replace_docs  # type: ignore[method-assign]
        try:
            await original_write(self, prepared, *args, **kw)
        finally:
            del self._store.replace_docs

    indexer.Indexer._write = write  # type: ignore[method-assign]


class DefaultChunking:
    """Another model chunked exactly as the default model chunks (its tokenizer and its budget).

    ``--model PATH`` judges a model, not a chunk size: a model with a longer input limit (384 word
    pieces for all-mpnet-base-v2 against 256) would otherwise also get other, longer chunks.
    Vectors are the other model's; only ``count_tokens`` and ``max_tokens`` come from the default.
    """

    def __init__(self, model: Embedder, default: Embedder) -> None:
        self._model = model
        self._default = default

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def dimension(self) -> int:
        return self._model.dimension

    @property
    def max_tokens(self) -> int:
        return self._default.max_tokens

    def count_tokens(self, text: str) -> int:
        return self._default.count_tokens(text)

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self._model.embed(texts)

    def __getattr__(self, name: str) -> Any:  # load, embed_if_loaded, model_path of the model
        return getattr(self._model, name)


def bench_embedder(model: Path | None, backend: str | None, *, own_chunking: bool = False) -> Embedder:
    """The embedder a quality bench runs: ``model`` (None = the bundled default) on ``backend``,
    chunked like the default model unless ``own_chunking``."""
    embedder = make_embedder(model, backend=backend)
    if model is None or own_chunking:
        return embedder
    return DefaultChunking(embedder, make_embedder(None, backend="torch"))  # torch: only its tokenizer is used


def work_slug(embedder: Embedder, *extra: str) -> str:
    """Folder name of a bench's indexes: the model (and backend), a chunk budget other than 256, any variant."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in embedder.name)
    budget = f"t{embedder.max_tokens}" if embedder.max_tokens != chunker.DEFAULT_MAX_TOKENS else ""
    return slug + "".join(f"-{e}" for e in (budget, *extra) if e)
