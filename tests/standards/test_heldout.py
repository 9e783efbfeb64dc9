"""The default ranking on the default embedding backend ranks a small held-out corpus correctly.

The corpus (tests/standards/fixtures/heldout) ships with the tests, so this never skips for a
missing ../shared. Its questions avoid the files' headings, so full-text matching alone is not
enough to pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from standards import IndexConfig, StandardsSource
from standards.index.embedder import Embedder, make_embedder
from tests.standards.conftest import IndexFactory

FIXTURES = Path(__file__).resolve().parent / "fixtures"
QUESTIONS = json.loads((FIXTURES / "heldout_questions.json").read_text(encoding="utf-8"))["questions"]


@pytest.fixture(scope="module")
def default_embedder() -> Embedder:
    """The backend a server gets by default (ONNX int8 when onnxruntime is installed)."""
    embedder = make_embedder(None, backend="auto")
    embedder.embed(["warm up"])  # exports the ONNX graph on a machine that has none cached yet
    return embedder


@pytest.mark.model
@pytest.mark.timeout(900)
async def test_default_ranking_puts_the_right_file_first(
    tmp_path: Path, default_embedder: Embedder, make_index: IndexFactory
) -> None:
    config = IndexConfig(
        sources=[StandardsSource(root=FIXTURES / "heldout", kind="project")], index_dir=tmp_path / "index"
    )
    assert config.search_mode == "hybrid"
    index = make_index(config, default_embedder)
    await index.start(watch=False)
    assert (await index.wait_ready(timeout=300)).state == "ready"
    firsts = {}
    for item in QUESTIONS:
        response = await index.search(item["question"], limit=5)
        firsts[item["question"]] = response.results[0].file
    assert firsts == {item["question"]: item["file"] for item in QUESTIONS}


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.mark.model
@pytest.mark.timeout(900)
def test_onnx_backends_agree_with_torch(default_embedder: Embedder) -> None:
    torch_model = make_embedder(None, backend="torch")
    fp32 = make_embedder(None, backend="onnx")
    assert fp32.name == torch_model.name  # same vectors: switching re-embeds nothing
    int8 = make_embedder(None, backend="onnx-int8")
    assert int8.name != torch_model.name
    texts = ["How do we rotate secrets?", "Structured logging with correlation ids", "x"]
    reference = torch_model.embed(texts)
    for backend, floor in ((fp32, 0.9999), (int8, 0.95)):
        vectors = backend.embed(texts)
        for got, want in zip(vectors, reference, strict=True):
            assert len(got) == 384
            assert cosine(got, want) > floor
        # alone or in a batch: the same vector (int8 scales activations per batch, so nearly)
        assert cosine(backend.embed([texts[0]])[0], vectors[0]) > (floor + 1) / 2
    assert fp32.count_tokens("a " * 400) == 400  # counting never truncates


def test_unknown_backend_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="auto, onnx-int8, onnx or torch"):
        make_embedder(None, backend="tensorflow")


def test_auto_backend_falls_back_to_torch_without_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from standards.index import embedder as embedder_module

    real_find_spec = importlib.util.find_spec
    assert embedder_module.resolve_backend("auto") == "onnx-int8"
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a)
    )
    assert embedder_module.resolve_backend("auto") == "torch"
    assert embedder_module.resolve_backend(None) == "torch"
    assert embedder_module.resolve_backend("onnx") == "onnx"  # an explicit choice is kept


def test_a_failed_export_says_how_to_use_torch(tmp_path: Path) -> None:
    from standards.index.onnx_embedder import OnnxEmbedder

    model = tmp_path / "broken-model"  # looks like a model folder (a folder that is none says so instead)
    model.mkdir()
    (model / "tokenizer.json").write_text("{}", encoding="utf-8")
    (model / "config.json").write_text("{}", encoding="utf-8")
    (model / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(RuntimeError, match="PERSONAS_EMBEDDING_BACKEND=torch"):
        OnnxEmbedder(model, cache_dir=tmp_path / "cache").load()


@pytest.mark.model
def test_a_single_query_embeds_to_the_bit_as_a_batch_of_one() -> None:
    """A query takes a shorter path than a batch (no padding, no mask); its vector must be the one
    the batch code gives for that text alone, so nothing a search returns depends on the path."""
    from standards.index.onnx_embedder import OnnxEmbedder

    embedder = make_embedder(None, backend="onnx-int8")
    assert isinstance(embedder, OnnxEmbedder)
    texts = ["x", "", "héllo wörld " * 300, *(item["question"] for item in QUESTIONS)]
    session = embedder._load(single=True)
    tokenizer = embedder._get_tokenizer(truncate=True)
    for text in texts:
        assert embedder.embed([text]) == embedder._embed_batches(session, tokenizer, [text]), text


@pytest.mark.model
def test_embed_if_loaded_loads_nothing_and_then_gives_the_query_vector(tmp_path: Path) -> None:
    """A search embeds on the event loop only what a loaded model gives at once; before the warm-up
    has loaded the query session and tokenizer it gets None (and a thread does the load)."""
    from standards.index.embedder import bundled_model_path
    from standards.index.onnx_embedder import OnnxEmbedder

    embedder = OnnxEmbedder(bundled_model_path())
    assert embedder.embed_if_loaded("how do we rotate secrets") is None
    assert embedder._sessions == {} and embedder._tokenizers == {}  # nothing was loaded by asking
    embedder.load()
    assert embedder.embed_if_loaded("how do we rotate secrets") == embedder.embed(["how do we rotate secrets"])[0]
