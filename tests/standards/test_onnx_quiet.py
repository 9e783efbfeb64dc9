"""Preparing the ONNX graph is quiet (``scripts/bootstrap`` runs it at install; a server's first start
may run it with stderr as its log): no progress bar from transformers, none of the ~40 lines
``onnxruntime.quantization`` logs on the root logger, and the command prints one line saying what it
did. The query path reads the graph's inputs once, at load, not per query."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from standards.index.embedder import bundled_model_path
from tests.standards.test_other_models import tiny_mpnet


@pytest.fixture
def progress_bars_on() -> Iterator[None]:
    """transformers' progress bars as a fresh process has them (another test may have turned them off)."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
    yield
    if not was:
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]


@pytest.mark.model
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("progress_bars_on")
def test_export_and_quantize_write_nothing_to_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from standards.index.onnx_embedder import ensure_onnx

    model = tiny_mpnet(tmp_path / "tiny-mpnet")
    capfd.readouterr()
    caplog.set_level(logging.INFO)  # the root logger at INFO, as `python -m standards.index.onnx_embedder` has it
    graph = ensure_onnx(model, quantized=True, cache_dir=tmp_path / "onnx")
    assert graph.is_file() and graph.name == "model-int8.onnx"
    out, err = capfd.readouterr()
    assert "Loading weights" not in err, err
    assert out == ""
    from_onnxruntime = [r.getMessage() for r in caplog.records if "onnxruntime" in r.pathname]
    assert from_onnxruntime == []
    ours = [r.getMessage() for r in caplog.records if r.name == "standards.index.onnx_embedder"]
    assert any("ONNX model ready" in message for message in ours), ours  # our own lines are not filtered
    logging.getLogger().info("after quantizing")  # the root logger's own records go through again
    assert caplog.records[-1].getMessage() == "after quantizing"


@pytest.mark.model
@pytest.mark.timeout(300)
def test_preparing_the_bundled_graph_prints_one_line(tmp_path: Path) -> None:
    """What ``scripts/bootstrap`` shows: one line on stderr, nothing on stdout (here only quantizing:
    the exported fp32 graph is copied in from this machine's cache, to spare the test the export)."""
    from standards.index.onnx_embedder import ensure_onnx, graph_folder

    cache = tmp_path / "onnx"
    folder = graph_folder(bundled_model_path(), cache)
    shutil.copyfile(ensure_onnx(bundled_model_path(), quantized=False), folder / "model.onnx")
    env = {**os.environ, "PERSONAS_ONNX_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    run = [sys.executable, "-m", "standards.index.onnx_embedder"]
    done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "quantized to int8" in lines[0] and str(folder) in lines[0], lines[0]
    assert (folder / "model-int8.onnx").is_file()
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert again.returncode == 0 and again.stdout == "", again.stderr
    prepared = f"agent-personas: ONNX model of the bundled all-MiniLM-L6-v2 already prepared in {folder}"
    assert again.stderr.splitlines() == [prepared]


@pytest.mark.model
def test_a_query_does_not_ask_the_session_for_its_inputs() -> None:
    """The graph's input names are read when the query session loads; a query only runs it."""
    from standards.index.onnx_embedder import OnnxEmbedder

    embedder = OnnxEmbedder(bundled_model_path())
    embedder.load()
    session = embedder._load(single=True)
    asked: list[int] = []
    real = session.get_inputs

    def counted() -> Any:
        asked.append(1)
        return real()

    session.get_inputs = counted
    want = embedder.embed(["how do we rotate secrets"])[0]
    assert embedder.embed_if_loaded("how do we rotate secrets") == want
    assert embedder.embed(["structured logging"]) and asked == []
