"""The sentence-transformers model run by ONNX Runtime (no torch at query time), this module's
one concern: from exporting the graph to embedding with it.

The ONNX graph is exported locally from the model folder's own weights (the bundled
all-MiniLM-L6-v2 by default; never downloaded) on first use, and kept in the user's cache
(``~/.cache/agent-personas/onnx`` or ``$PERSONAS_ONNX_CACHE``) keyed by the exporting libraries'
versions and the model (the bundled one's package version and files' content, so every venv and
checkout shares one export; another folder's weights' path, size and mtime), so every later process
just loads it. ``quantized=True`` adds a dynamic int8 copy (``onnxruntime.quantization``): faster queries.

Tokenising uses the model's ``tokenizer.json`` (the ``tokenizers`` library); pooling and
normalisation follow the model's sentence-transformers config (mean pooling + L2). fp32 output
equals the torch model's, so it shares its index name (switching backends re-embeds nothing);
the int8 graph's vectors differ slightly, so it has a name of its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from standards.index.chunker import estimate_tokens
from standards.private_dir import ForeignCacheError, private_folder

log = logging.getLogger(__name__)

EXPORT_FORMAT = "v1"
_INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


def onnx_cache_dir() -> Path:
    configured = os.environ.get("PERSONAS_ONNX_CACHE")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agent-personas" / "onnx"


#: Libraries whose versions shape the exported (and quantized) graph, or whether this runtime loads it.
_EXPORTERS = ("torch", "transformers", "onnx", "onnxruntime")


def _weights_key(model_path: Path) -> str:
    """The graph cache's key: the export format and the exporting libraries' versions, plus the bundled
    model's install-independent identity (one export serves every venv and checkout with the same
    libraries; another torch or onnxruntime exports anew, as a graph from a newer exporter may not
    load in an older runtime), or another folder's resolved path and weights' sizes and mtimes."""
    from importlib.metadata import PackageNotFoundError, version

    from standards.index.model_identity import bundled_identity

    parts = [EXPORT_FORMAT]
    for library in _EXPORTERS:
        try:
            parts.append(f"{library}=={version(library)}")
        except PackageNotFoundError:
            parts.append(f"{library}==?")
    if (identity := bundled_identity(model_path)) is not None:
        parts.append(identity)
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    parts.append(str(model_path.resolve()))
    for weights in sorted(model_path.glob("*.safetensors")) + sorted(model_path.glob("pytorch_model.bin")):
        stat = weights.stat()
        parts.append(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def onnx_unsupported(model_path: Path) -> str | None:
    """Why this backend would not compute the model's sentence-transformers vectors, or None. It runs
    the transformer and mean-pools (+ L2): a model that pools otherwise (CLS, as BGE models do; max)
    or adds modules (a Dense layer) would get other vectors, under the torch backend's index name."""
    try:
        modules = json.loads((model_path / "modules.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None  # sentence-transformers' own default for a bare transformer: mean pooling
    except (OSError, ValueError) as exc:
        return f"its modules.json is unreadable ({exc})"
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        return "its modules.json is not a list of modules"
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return f"its modules are {' + '.join(kinds)} (supported: Transformer + Pooling [+ Normalize])"
    try:
        pooling = json.loads((model_path / str(modules[1].get("path", "")) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"its pooling config is unreadable ({exc})"
    if not isinstance(pooling, dict):
        return "its pooling config is not an object"
    modes = {key.removeprefix("pooling_mode_") for key, on in pooling.items() if key.startswith("pooling_mode_") and on}
    if isinstance(pooling.get("pooling_mode"), str):
        modes = {str(pooling["pooling_mode"]).removesuffix("_tokens")}
    modes = {mode.removesuffix("_tokens") for mode in modes}
    if modes - {"mean"} or pooling.get("include_prompt") is False:
        return f"it pools with {' + '.join(sorted(modes))} (supported: mean)"
    return None


def export_onnx(model_path: Path, target: Path) -> None:
    """Export the transformer of ``model_path`` to ``target`` (torch's TorchScript-based exporter)."""
    import torch
    from transformers import AutoModel

    from standards.index.embedder import _quiet_transformers

    _quiet_transformers()  # no "Loading weights" bar on stderr
    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager")
    model.eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    ids = torch.tensor([[101, 2129, 2323, 1045, 2171, 102], [101, 2129, 102, 0, 0, 0]])
    mask = (ids != 0).long()
    axes = {"0": "batch", "1": "tokens"}
    dynamic = {name: {0: axes["0"], 1: axes["1"]} for name in [*_INPUTS, "last_hidden_state"]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about data-dependent branches the model does not take
        torch.onnx.export(
            LastHiddenState(model),
            (ids, mask, torch.zeros_like(ids)),
            str(target),
            input_names=_INPUTS,
            output_names=["last_hidden_state"],
            dynamic_axes=dynamic,
            opset_version=17,
            dynamo=False,
        )


class _QuantizerChatter(logging.Filter):
    """onnxruntime's quantizer logs on the root logger, per graph, a line for every tensor and MatMul it
    leaves alone and advice to pre-process ("Please consider ..."): some 40 lines of a first install or
    start that ask nothing of the user. Its errors still pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        from_quantizer = f"onnxruntime{os.sep}quantization" in record.pathname
        return not from_quantizer or record.levelno >= logging.ERROR


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of the matrix multiplications (embeddings stay fp32)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = _QuantizerChatter()
    root = logging.getLogger()
    root.addFilter(quiet)
    try:
        quantize_dynamic(
            str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
        )
    finally:
        root.removeFilter(quiet)


def graph_folder(model_path: Path, cache_dir: Path | None = None) -> Path:
    """The cache folder of ``model_path``'s graphs (made private on first use)."""
    base = private_folder(
        cache_dir or onnx_cache_dir(), "the ONNX graph cache", "PERSONAS_ONNX_CACHE"
    )  # no graph another user planted
    return private_folder(
        base / f"{model_path.name}-{_weights_key(model_path)}", "the ONNX graph cache", "PERSONAS_ONNX_CACHE"
    )


def ensure_onnx(model_path: Path, *, quantized: bool, cache_dir: Path | None = None) -> Path:
    """Path of the ONNX graph for ``model_path`` (exported and cached on first use)."""
    folder = graph_folder(model_path, cache_dir)
    fp32 = folder / "model.onnx"
    int8 = folder / "model-int8.onnx"
    wanted = int8 if quantized else fp32
    if wanted.is_file():
        return wanted
    started = time.perf_counter()
    if not fp32.is_file():
        log.info("exporting %s to ONNX (once; cached in %s)", model_path, folder)
        tmp = folder / f"model.onnx.{os.getpid()}.tmp"
        export_onnx(model_path, tmp)
        tmp.replace(fp32)  # atomic: concurrent processes never see half a file
    if quantized:
        tmp = folder / f"model-int8.onnx.{os.getpid()}.tmp"
        quantize_int8(fp32, tmp)
        tmp.replace(int8)
    log.info("ONNX model ready in %.1fs: %s", time.perf_counter() - started, wanted)
    return wanted


class OnnxEmbedder:
    """Mean-pooled, normalised sentence embeddings from an ONNX graph of the model."""

    def __init__(
        self,
        model_path: Path,
        *,
        quantized: bool = True,
        batch_size: int = 32,
        threads: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        from standards.index.embedder import _read_dimension, _read_max_tokens, model_name

        self._path = model_path
        self._name = model_name(model_path)
        self._quantized = quantized
        self._batch_size = batch_size
        self._threads = threads
        self._cache_dir = cache_dir
        self._dimension = _read_dimension(model_path) or 384
        self._max_tokens = _read_max_tokens(model_path)
        self._lock = threading.Lock()
        self._sessions: dict[bool, Any] = {}  # single text (a query) → session
        self._inputs: dict[bool, tuple[str, ...]] = {}  # the inputs each session's graph declares
        self._tokenizers: dict[bool, Any] = {}

    @property
    def name(self) -> str:
        return f"{self._name}:onnx-int8" if self._quantized else self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @property
    def model_path(self) -> Path:
        return self._path

    def count_tokens(self, text: str) -> int:
        tokenizer = self._get_tokenizer(truncate=False)
        if tokenizer is None:
            return estimate_tokens(text)
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    def load(self) -> None:
        """Load what a search needs (the query session and tokenizer) now instead of on the first query."""
        self._load(single=True)
        self._get_tokenizer(truncate=True)

    def embed_if_loaded(self, text: str) -> list[float] | None:
        """:meth:`embed` of one text if the query session and tokenizer are loaded, else None (then
        nothing is loaded): no lock is taken (a batch session may be loading under it), so a search
        may call it on the event loop."""
        session = self._sessions.get(True)
        tokenizer = self._tokenizers.get(True)
        if session is None or tokenizer is None:
            return None
        return self._embed_one(session, self._inputs[True], tokenizer, text)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        session = self._load(single=len(texts) == 1)
        tokenizer = self._get_tokenizer(truncate=True)
        if tokenizer is None:
            raise RuntimeError(f"no tokenizer.json in {self._path}: the ONNX backend needs it (use the torch backend)")
        if len(texts) == 1:  # a search query: no batching, sorting or padding
            return [self._embed_one(session, self._inputs[True], tokenizer, texts[0])]
        return self._embed_batches(session, tokenizer, texts)

    def _embed_batches(self, session: Any, tokenizer: Any, texts: list[str]) -> list[list[float]]:
        """Texts in batches of similar length (padded; the mask keeps padding out of the mean)."""
        encodings = tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out: list[list[float]] = [[] for _ in texts]
        inputs = tuple(i.name for i in session.get_inputs())
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(batch):
                tokens = encodings[i].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            hidden = session.run(None, _feeds(inputs, ids, mask))
            weights = mask[..., None].astype(np.float32)
            pooled = _unit_rows((hidden[0] * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9))
            for row, i in enumerate(batch):
                out[i] = pooled[row].tolist()
        return out

    @staticmethod
    def _embed_one(session: Any, inputs: tuple[str, ...], tokenizer: Any, text: str) -> list[float]:
        """:meth:`embed` of one text (the same numbers as in a batch: every token counts in the mean);
        ``inputs``: the session's input names, read once when it loaded, not per query."""
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        hidden = session.run(None, _feeds(inputs, ids, np.ones_like(ids)))[0][0]
        pooled = _unit_rows(hidden.sum(axis=0, keepdims=True) / np.float32(len(hidden)))  # as in a batch, to the bit
        vector: list[float] = pooled[0].tolist()
        return vector

    def _load(self, *, single: bool) -> Any:
        """The session for one text (a search query: one thread, as a query is too small to share
        out and waking a second thread on a busy machine costs more than it saves; measured 8 vs
        11 ms wall, 3.5 vs 4.3 ms CPU at load 11) or for batches (``threads``, default all cores)."""
        with self._lock:
            session = self._sessions.get(single)
            if session is None:
                import onnxruntime as ort

                from standards.index.embedder import ModelFolderError, check_model_folder

                check_model_folder(self._path)  # a missing folder is not fixed by another backend
                if (why := onnx_unsupported(self._path)) is not None:
                    raise ModelFolderError(
                        f"the ONNX backend cannot run the model at {self._path}: {why}; "
                        "set PERSONAS_EMBEDDING_BACKEND=torch (or auto, which picks torch for it)"
                    )
                try:
                    graph = ensure_onnx(self._path, quantized=self._quantized, cache_dir=self._cache_dir)
                except ForeignCacheError:
                    raise  # nothing was exported: the folder it names is the fix, not another backend
                except Exception as exc:
                    raise RuntimeError(
                        f"could not export the model at {self._path} to ONNX ({type(exc).__name__}: {exc}); "
                        "set PERSONAS_EMBEDDING_BACKEND=torch to embed with torch instead"
                    ) from exc
                options = ort.SessionOptions()
                threads = 1 if single else self._threads
                if threads:
                    options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                # no busy-waiting between ops: on a shared 2-core machine spinning threads steal the CPU
                # the query needs (measured: same CPU per query, lower wall time under load)
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
                # before the session: embed_if_loaded reads both
                self._inputs[single] = tuple(i.name for i in session.get_inputs())
                self._sessions[single] = session
            return session

    def _get_tokenizer(self, *, truncate: bool) -> Any:
        """The model's fast tokenizer; ``truncate`` cuts inputs at the model's limit (special tokens included)."""
        with self._lock:
            if truncate not in self._tokenizers:
                tokenizer_file = self._path / "tokenizer.json"
                if not tokenizer_file.is_file():
                    return None
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(tokenizer_file))
                tokenizer.no_padding()
                if truncate:
                    tokenizer.enable_truncation(self._max_tokens)
                else:
                    tokenizer.no_truncation()
                self._tokenizers[truncate] = tokenizer
            return self._tokenizers[truncate]


def _feeds(inputs: tuple[str, ...], ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """The ``inputs`` the graph declares: a model without token types (MPNet, RoBERTa) is exported without
    ``token_type_ids`` (the exporter drops an input the graph never reads), and feeding it is an error."""
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    return {name: feeds[name] for name in inputs}


def _unit_rows(pooled: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length in place by ``np.linalg.norm(axis=1)``'s operations (to the bit), unchecked."""
    pooled /= np.maximum(np.sqrt(np.add.reduce(pooled * pooled, axis=1, keepdims=True)), 1e-12)
    return pooled


def main() -> None:
    """Export and quantize the bundled model now (``scripts/bootstrap``), so no server pays for it on
    its first start; one line on stderr says what was done."""
    from standards.index.embedder import bundled_model_path

    logging.basicConfig(level=logging.INFO, format="agent-personas: %(message)s", stream=sys.stderr)
    model, started = bundled_model_path(), time.perf_counter()
    folder = graph_folder(model)
    had = [(folder / name).is_file() for name in ("model.onnx", "model-int8.onnx")]
    log.setLevel(logging.WARNING)  # ensure_onnx's own progress lines: the one below says it all
    for quantized in (False, True):
        ensure_onnx(model, quantized=quantized)
    log.setLevel(logging.NOTSET)
    took = f" in {time.perf_counter() - started:.1f}s (once per machine)"
    what = "already prepared" if all(had) else ("quantized to int8" if had[0] else "exported and quantized") + took
    log.info("ONNX graph of the bundled all-MiniLM-L6-v2 %s: %s", what, folder)


if __name__ == "__main__":
    main()
