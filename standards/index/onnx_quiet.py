"""Quiet ``onnxruntime.quantization``: it logs every step on the root logger, which a CLI's or a
server's logging prints to stderr."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path


class _FromQuantizer(logging.Filter):
    """Drops the records ``onnxruntime.quantization`` logs on the root logger."""

    def __init__(self) -> None:
        import onnxruntime.quantization

        super().__init__()
        self._package = str(Path(onnxruntime.quantization.__file__).parent)

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.pathname.startswith(self._package)


@contextlib.contextmanager
def quantizer_quiet() -> Iterator[None]:
    """While quantizing: none of the ~40 lines ``quantize_dynamic`` logs through the root logger with
    ``logging.info``/``logging.warning`` (each MatMul it skips, each tensor without static parameters,
    a hint to pre-process; all expected for dynamic quantization of this graph) reach a handler. A
    filter on the root *logger* sees only records logged on it directly, never those of named loggers
    (they propagate to its handlers, not through its filters), so nothing of ours is hidden."""
    root = logging.getLogger()
    quiet = _FromQuantizer()
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)
