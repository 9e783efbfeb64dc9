"""Quantizing the exported graph (scripts/bootstrap, or a first start) logs none of onnxruntime's
per-tensor chatter: ~40 root-logger lines per graph ("Ignore MatMul due to non constant B", "Quantization
parameters for tensor ... not specified", "Please consider to run pre-processing") that ask nothing of
the user. A real quantization of a small graph made here."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from standards.index.onnx_embedder import quantize_int8


def _graph(path: Path) -> None:
    """x @ w (w a constant: quantized) then @ x^T-shaped input (not constant: 'Ignore MatMul')."""
    weights = numpy_helper.from_array(np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("MatMul", ["h", "y"], ["out"])],
        "tiny",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8]),
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 2]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, 2])],
        initializer=[weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_quantizing_logs_no_onnxruntime_chatter(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source, target = tmp_path / "model.onnx", tmp_path / "model-int8.onnx"
    _graph(source)
    caplog.set_level(logging.DEBUG)
    quantize_int8(source, target)
    assert target.is_file()
    assert [n.op_type for n in onnx.load(str(target)).graph.node].count("MatMulInteger") == 1  # it did quantize
    chatter = [r.getMessage() for r in caplog.records if "onnxruntime" in r.pathname]
    assert chatter == []
    logging.getLogger().info("after quantizing")  # the filter is gone: root records pass again
    assert caplog.records[-1].getMessage() == "after quantizing"
