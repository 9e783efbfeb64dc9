"""Which rows can hold the nearest chunks: a coarse int8 pass with a proven error bound.

The float32 product of the query with every chunk vector is memory-bound: 20k chunks of 384
floats are 30 MB streamed per search (~1.5-2 ms on a small CPU, and it pushes the query model's
weights out of the CPU cache, so the next query embedding pays too). An int8 copy of the matrix is
a quarter of that, and ONNX Runtime's int8 kernels (``DynamicQuantizeMatMul``, the same kernel the
int8 query model uses) score it in ~0.25 ms.

The coarse scores are not trusted as they are: for each row ``i`` the error of the int8 product is
at most ``|q|_1 * step_i / 2 + a * |m~_i|_1`` (``step_i``: the row's quantization step, ``a``: the
query's quantization step, ``m~_i`` the int8 row as floats), so every row whose coarse score plus
that bound reaches the k-th best coarse score *minus* its bound is a candidate, and no row outside
the candidates can be among the k nearest. :class:`~standards.index.snapshot.Snapshot` scores only
the candidates with the float32 product: the answer is the exact top k, as before (a test compares
them), at ~0.5 ms instead of ~2 ms at 20k chunks.

Rows are quantized to 7 bits (-63..63), not 8: on CPUs without AVX-VNNI ONNX Runtime's u8 × s8
kernel adds pairs of products in 16 bits with saturation, and 2 × 255 × 63 stays below 2^15.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Below this many rows the float32 product is cheap enough (and a session not worth its memory).
MIN_ROWS = 4096
#: Largest magnitude of a quantized row value (7 bits: see the module docstring).
LEVELS = 63
#: Float rounding of the coarse scores and of the bound itself (far below any real bound).
SLACK = 1e-4


class Int8Prefilter:
    """Candidate rows for the k nearest to a query, from an int8 copy of ``matrix`` (rows × dims)."""

    def __init__(self, matrix: np.ndarray) -> None:
        # one full-size temporary, not three (each a fresh 18 MB at 12k chunks: this runs on every reload)
        largest = np.maximum(matrix.max(axis=1), -matrix.min(axis=1))
        step = np.where(largest > 0, largest / LEVELS, 1.0).astype(np.float32)
        scaled = np.divide(matrix, step[:, None])
        quantized = np.rint(scaled, out=scaled).astype(np.int8)
        self._half_step = step / 2
        self._row_l1 = (np.abs(quantized).sum(axis=1, dtype=np.int64) * step).astype(np.float32)
        self._session = _session(quantized, step)

    def candidates(self, query: np.ndarray, keep: np.ndarray | None, k: int) -> np.ndarray:
        """Row numbers (ascending) that may be among the ``k`` nearest rows passing ``keep``; a
        superset of them, never missing one."""
        coarse: np.ndarray = self._session.run(None, {"query": query.reshape(1, -1)})[0][0]
        # the query's own quantization step: ONNX Runtime's DynamicQuantizeLinear is uint8 over the
        # range [min(0, min q), max(0, max q)]; a kernel quantizing it symmetrically to int8 (other
        # CPUs) has max |q| / 127; the larger of the two, and each value may be off by a full step
        # (zero point rounding)
        low, high = float(query.min()), float(query.max())
        query_step = max((max(high, 0.0) - min(low, 0.0)) / 255, max(high, -low) / 127)
        bound = self._half_step * float(np.abs(query).sum()) + self._row_l1 * query_step + SLACK
        lower = coarse - bound
        if keep is not None:
            lower[~keep] = -np.inf
        rows = len(lower)
        kth = np.partition(lower, rows - k)[rows - k] if k <= rows else -np.inf
        coarse += bound  # now the upper bound
        hits = coarse >= kth
        if keep is not None:
            hits &= keep
        result: np.ndarray = np.flatnonzero(hits)
        return result


def make_prefilter(matrix: np.ndarray) -> Int8Prefilter | None:
    """The prefilter of ``matrix``, or None when it is too small to need one or cannot be built."""
    if matrix.ndim != 2 or len(matrix) < MIN_ROWS:
        return None
    try:
        return Int8Prefilter(matrix)
    except Exception:  # the float32 product answers alone (slower, same results)
        log.warning("could not build the int8 vector prefilter; searching with the full product", exc_info=True)
        return None


def _session(quantized: np.ndarray, step: np.ndarray) -> Any:
    """An ONNX Runtime session scoring a float query against the int8 rows (one thread)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rows, dims = quantized.shape
    weights = [
        numpy_helper.from_array(np.ascontiguousarray(quantized.T), "rows"),
        numpy_helper.from_array(step.astype(np.float32), "step"),
        numpy_helper.from_array(np.zeros(rows, dtype=np.int8), "zero"),
    ]
    inputs = ["query", "rows", "step", "zero"]
    node = helper.make_node("DynamicQuantizeMatMul", inputs, ["scores"], domain="com.microsoft")
    graph = helper.make_graph(
        [node],
        "int8-prefilter",
        [helper.make_tensor_value_info("query", TensorProto.FLOAT, [1, dims])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, rows])],
        weights,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
