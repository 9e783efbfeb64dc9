"""A model other than the bundled one, set by path (``PERSONAS_EMBEDDING_MODEL_PATH``).

The ONNX backend must run a model whose graph has no ``token_type_ids`` input (MPNet, RoBERTa: the
exporter drops an input the graph never reads); a tiny MPNet with random weights, made here, stands
in for all-mpnet-base-v2 (no real weights in tests).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from standards.index.embedder import bundled_model_path

HIDDEN = 16


def tiny_mpnet(folder: Path) -> Path:
    """A sentence-transformers folder: a 1-layer MPNet (random weights), the bundled tokenizer, mean pooling."""
    import torch
    from transformers import MPNetConfig, MPNetModel

    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=30522,
        hidden_size=HIDDEN,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=130,
    )
    MPNetModel(config).save_pretrained(str(folder))
    shutil.copy(bundled_model_path() / "tokenizer.json", folder / "tokenizer.json")
    (folder / "1_Pooling").mkdir()
    pooling = {"word_embedding_dimension": HIDDEN, "pooling_mode_mean_tokens": True}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling), encoding="utf-8")
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}), encoding="utf-8")
    return folder


def torch_vector(folder: Path, text: str) -> np.ndarray:
    """What sentence-transformers computes: the model's last hidden state, mean-pooled, L2-normalised."""
    import torch
    from tokenizers import Tokenizer
    from transformers import MPNetModel

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()  # the bundled tokenizer.json pads to 128
    ids = torch.tensor([tokenizer.encode(text).ids])
    with torch.no_grad():
        hidden = MPNetModel.from_pretrained(str(folder))(input_ids=ids).last_hidden_state[0]  # loads in eval mode
    pooled = hidden.mean(dim=0).numpy()
    return np.asarray(pooled / np.linalg.norm(pooled), dtype=np.float32)


@pytest.mark.model
@pytest.mark.timeout(300)
def test_onnx_runs_a_model_without_token_type_ids(tmp_path: Path) -> None:
    from standards.index.onnx_embedder import OnnxEmbedder

    model = tiny_mpnet(tmp_path / "tiny-mpnet")
    texts = ["How should I name a REST resource?", "code review " * 20]
    fp32 = OnnxEmbedder(model, quantized=False, cache_dir=tmp_path / "onnx")
    assert fp32.dimension == HIDDEN
    batch = fp32.embed(texts)
    assert fp32.embed(texts[:1])[0] == pytest.approx(batch[0], abs=1e-5)  # the query path agrees
    for text, vector in zip(texts, batch, strict=True):
        assert vector == pytest.approx(torch_vector(model, text).tolist(), abs=1e-4)
    int8 = OnnxEmbedder(model, quantized=True, cache_dir=tmp_path / "onnx")
    assert len(int8.embed(texts)) == 2 and len(int8.embed(texts[:1])[0]) == HIDDEN


def test_model_folders_of_one_name_or_new_weights_get_names_of_their_own(tmp_path: Path) -> None:
    """The name salts every chunk hash: two models in folders called ``model`` (the bundled model's
    folder name), or new weights in one folder, must not reuse each other's vectors in an index."""
    from standards.index.embedder import SentenceTransformerEmbedder
    from standards.index.onnx_embedder import OnnxEmbedder

    first, second = tmp_path / "a" / "model", tmp_path / "b" / "model"
    for folder in (first, second):
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"weights")
    bundled = SentenceTransformerEmbedder().name
    assert bundled == "sentence-transformers:model"  # unchanged: no index built with it re-embeds
    names = {SentenceTransformerEmbedder(first).name, SentenceTransformerEmbedder(second).name, bundled}
    assert len(names) == 3
    before = SentenceTransformerEmbedder(first).name
    (first / "model.safetensors").write_bytes(b"other weights")
    assert SentenceTransformerEmbedder(first).name != before
    assert OnnxEmbedder(first, quantized=False).name == SentenceTransformerEmbedder(first).name  # same vectors
    assert OnnxEmbedder(first).name == SentenceTransformerEmbedder(first).name + ":onnx-int8"


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8", "torch"])
def test_a_missing_or_broken_model_folder_says_which_and_how_to_fix_it(tmp_path: Path, backend: str) -> None:
    """PERSONAS_EMBEDDING_MODEL_PATH at a folder that is not there, not a model, or whose weights are a
    dangling link (a model cache's blob removed): the embedder is still made (the server starts and
    reports it), and loading names the folder, the cause and the fix, on every backend (the ONNX one
    used to say 'Repo id must be in the form ...' and to switch to torch, which fails the same way)."""
    from standards.index.embedder import ModelFolderError, check_model_folder, make_embedder

    empty = tmp_path / "empty"
    empty.mkdir()
    dangling = tmp_path / "dangling"
    dangling.mkdir()
    (dangling / "config.json").write_text("{}", encoding="utf-8")
    (dangling / "model.safetensors").symlink_to(tmp_path / "blobs" / "gone")
    cases = {tmp_path / "missing": "does not exist", empty: "is not a model folder", dangling: "cannot read"}
    for folder, cause in cases.items():
        embedder = make_embedder(folder, backend=backend)
        with pytest.raises(ModelFolderError) as raised:
            embedder.embed(["a query", "another text"])
        message = str(raised.value)
        assert str(folder) in message and cause in message and "PERSONAS_EMBEDDING_MODEL_PATH" in message
    legacy = tmp_path / "legacy"  # an older sentence-transformers layout: the transformer in 0_Transformer/
    (legacy / "0_Transformer").mkdir(parents=True)
    (legacy / "modules.json").write_text("[]", encoding="utf-8")
    check_model_folder(legacy)


def _model_folder(folder: Path, modules: list[str], pooling: dict[str, object]) -> Path:
    """A sentence-transformers folder layout (the weights are not read before the check)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"weights")
    paths = {"Transformer": "", "Pooling": "1_Pooling", "Normalize": "2_Normalize", "Dense": "2_Dense"}
    listed = [
        {"idx": i, "name": str(i), "path": paths[kind], "type": f"sentence_transformers.models.{kind}"}
        for i, kind in enumerate(modules)
    ]
    (folder / "modules.json").write_text(json.dumps(listed), encoding="utf-8")
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling), encoding="utf-8")
    return folder


def test_onnx_never_embeds_a_model_that_does_not_mean_pool(tmp_path: Path) -> None:
    """The ONNX backend mean-pools. A CLS-pooled model (BGE) or one with a Dense layer got other vectors
    than torch under the torch backend's index name (fp32), so switching backends mixed two kinds of
    vectors in one index and cache: 'auto' now runs such a model on torch, an explicit ONNX backend
    refuses it naming the folder, the cause and the fix; mean-pooled models stay on ONNX."""
    from standards.index.embedder import ModelFolderError, SentenceTransformerEmbedder, make_embedder
    from standards.index.onnx_embedder import OnnxEmbedder

    cls = _model_folder(tmp_path / "bge", ["Transformer", "Pooling", "Normalize"], {"pooling_mode_cls_token": True})
    dense = _model_folder(tmp_path / "dense", ["Transformer", "Pooling", "Dense"], {"pooling_mode_mean_tokens": True})
    mean = _model_folder(tmp_path / "mean", ["Transformer", "Pooling"], {"pooling_mode_mean_tokens": True})
    assert isinstance(make_embedder(mean, backend="auto"), OnnxEmbedder)
    assert isinstance(make_embedder(None, backend="auto"), OnnxEmbedder)  # the bundled model
    for folder, cause in ((cls, "cls"), (dense, "Dense")):
        assert isinstance(make_embedder(folder, backend="auto"), SentenceTransformerEmbedder)
        for backend in ("onnx", "onnx-int8"):
            with pytest.raises(ModelFolderError) as raised:
                make_embedder(folder, backend=backend).embed(["a query"])
            message = str(raised.value)
            assert str(folder) in message and cause in message and "PERSONAS_EMBEDDING_BACKEND=torch" in message


def test_a_folder_whose_pooling_or_dense_layer_changes_gets_another_name(tmp_path: Path) -> None:
    """Same top-level weights, other vectors: the pooling mode (1_Pooling/config.json) or a Dense layer's
    weights (2_Dense/) changed in place must not let the index or the cache reuse the old vectors."""
    from standards.index.embedder import SentenceTransformerEmbedder

    folder = _model_folder(tmp_path / "model", ["Transformer", "Pooling", "Dense"], {"pooling_mode_mean_tokens": True})
    (folder / "2_Dense").mkdir()
    (folder / "2_Dense" / "model.safetensors").write_bytes(b"dense")
    names = [SentenceTransformerEmbedder(folder).name]
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}), encoding="utf-8")
    names.append(SentenceTransformerEmbedder(folder).name)
    (folder / "2_Dense" / "model.safetensors").write_bytes(b"other dense weights")
    names.append(SentenceTransformerEmbedder(folder).name)
    assert len(set(names)) == 3, names
    assert SentenceTransformerEmbedder(folder).name == names[-1]  # stable while nothing changes


async def test_a_missing_model_folder_is_logged_as_its_fix_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server's log (stderr) says what to fix in one line: the warm-up, the build and the
    watcher each logged a 25-line traceback of the same ModelFolderError before."""
    from standards.index.embedder import make_embedder
    from tests.standards.conftest import failed_start_warnings

    missing = tmp_path / "missing-model"
    status, logged = await failed_start_warnings(tmp_path, make_embedder(missing, backend="onnx-int8"), caplog)
    assert status.state == "error" and "does not exist" in status.message
    assert any("building the standards index failed" in r.getMessage() for r in logged)
    for record in logged:
        assert str(missing) in record.getMessage() and "PERSONAS_EMBEDDING_MODEL_PATH" in record.getMessage()
        assert not record.exc_info, record.getMessage()
