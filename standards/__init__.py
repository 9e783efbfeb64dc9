"""Engineering standards: Markdown chunking, embedding, and a fresh hybrid search index.

Importing this package is cheap: each name below is imported from its module on first use (PEP 562),
so a process that only needs front matter or the result models (the MCP server answering
``tools/list``) never loads the index, its store or their libraries. The embedding model (torch,
sentence-transformers) loads on first use, and LanceDB only when an index is opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from standards.lazy_names import lazy_names

if TYPE_CHECKING:
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

#: Where each name of this package lives.
_HOMES = {
    "Embedder": "standards.index.embedder",
    "HashingEmbedder": "standards.index.embedder",
    "SentenceTransformerEmbedder": "standards.index.embedder",
    "BuildProgress": "standards.index.models",
    "BuildReport": "standards.index.models",
    "IndexConfig": "standards.index.models",
    "IndexStatus": "standards.index.models",
    "SearchHit": "standards.index.models",
    "SearchResponse": "standards.index.models",
    "StandardFile": "standards.index.models",
    "StandardsSource": "standards.index.models",
    "writer_or_reader": "standards.index.opening",
    "IndexReader": "standards.index.reader",
    "IndexSearcher": "standards.index.searcher",
    "IndexWriter": "standards.index.writer",
}


__getattr__ = lazy_names(__name__, _HOMES, globals())


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
