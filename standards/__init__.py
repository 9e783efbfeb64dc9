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
from standards.index.standards_index import StandardsIndex


def universal_standards_dir() -> Path:
    """The starter standards shipped with the package (``standards/universal``)."""
    return Path(__file__).resolve().parent / "universal"


__all__ = [
    "BuildProgress",
    "BuildReport",
    "Embedder",
    "HashingEmbedder",
    "IndexConfig",
    "IndexStatus",
    "SearchHit",
    "SearchResponse",
    "SentenceTransformerEmbedder",
    "StandardFile",
    "StandardsIndex",
    "StandardsSource",
    "universal_standards_dir",
]
