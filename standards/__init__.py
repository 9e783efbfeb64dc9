"""Engineering standards: Markdown chunking, embedding, and a fresh hybrid search index.

Importing this package is cheap: the embedding model (torch, sentence-transformers) is
loaded on first use, and LanceDB only when an index is opened.
"""

from __future__ import annotations

from pathlib import Path

from standards.index.embedder import Embedder, HashingEmbedder, SentenceTransformerEmbedder
from standards.index.models import (
    BuildProgress,
    BuildReport,
    IndexConfig,
    IndexStatus,
    SearchHit,
    SearchResponse,
    StandardFile,
    StandardsSource,
)
from standards.index.opening import writer_or_reader
from standards.index.reader import IndexReader
from standards.index.searcher import IndexSearcher
from standards.index.writer import IndexWriter


def universal_standards_dir() -> Path:
    """The starter standards shipped with the package (``standards/universal``)."""
    return Path(__file__).resolve().parent / "universal"


__all__ = [
    "BuildProgress",
    "BuildReport",
    "Embedder",
    "HashingEmbedder",
    "IndexConfig",
    "IndexReader",
    "IndexSearcher",
    "IndexStatus",
    "IndexWriter",
    "SearchHit",
    "SearchResponse",
    "SentenceTransformerEmbedder",
    "StandardFile",
    "StandardsSource",
    "universal_standards_dir",
    "writer_or_reader",
]
