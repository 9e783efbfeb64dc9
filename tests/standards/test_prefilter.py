"""The int8 prefilter never loses one of the nearest rows, so the in-memory copy's vector half
answers exactly as the full float32 product does (ids, order and distances), under filters too."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from standards.index.prefilter import MIN_ROWS, Int8Prefilter, make_prefilter
from standards.index.snapshot import Snapshot, snapshot_from_rows

DIMS = 384


def unit(rows: np.ndarray) -> np.ndarray:
    out: np.ndarray = (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)
    return out


def hard_matrix(rng: np.random.Generator, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Random unit rows plus, around one query, 300 rows whose similarities to it differ by far less
    than the int8 quantization step (and exact duplicates): the coarse scores alone would mix them up."""
    query = unit(rng.standard_normal(DIMS))
    base = unit(rng.standard_normal((rows - 300, DIMS)))
    near = unit(query + 0.0005 * rng.standard_normal((300, DIMS)) + 0.3 * base[:300])
    near[250:] = near[200:250]  # duplicates: exact ties
    matrix = np.concatenate([base, near]).astype(np.float32)
    return matrix, query


def exact_top(matrix: np.ndarray, query: np.ndarray, keep: np.ndarray | None, k: int) -> set[int]:
    sims = matrix @ query
    if keep is not None:
        sims = np.where(keep, sims, -np.inf)
    order = np.argsort(-sims, kind="stable")
    kth = sims[order[k - 1]]
    # every row tied with the k-th is a right answer: all of them must be candidates
    return {int(i) for i in np.flatnonzero((sims >= kth) & np.isfinite(sims))}


@pytest.mark.parametrize("k", [1, 5, 20, 50])
def test_candidates_always_hold_the_exact_nearest(k: int) -> None:
    rng = np.random.default_rng(k)
    matrix, hard_query = hard_matrix(rng, MIN_ROWS + 700)
    prefilter = Int8Prefilter(matrix)
    queries = [hard_query, matrix[10], *unit(rng.standard_normal((20, DIMS)))]
    few = np.zeros(len(matrix), dtype=bool)
    few[[3, 4000, len(matrix) - 1]] = True  # fewer rows pass than asked for
    keeps: list[np.ndarray | None] = [None, rng.random(len(matrix)) < 0.5, few]
    for query in queries:
        for keep in keeps:
            candidates = prefilter.candidates(np.asarray(query, dtype=np.float32), keep, k)
            assert exact_top(matrix, query, keep, k) <= set(candidates.tolist())
            if keep is not None:
                assert keep[candidates].all()
    # and it does narrow: the 300 rows around the query and few others, not the table
    assert len(prefilter.candidates(hard_query, None, k)) < len(matrix) // 10


def rows_of(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"c{i}",
            "doc": f"d{i // 3}",
            "source": "project",
            "file": f"f{i // 3}.md",
            "domain": "security" if i % 2 else "testing",
            "paths": [],
            "heading_path": ["T"],
            "tags": [],
            "text": f"chunk {i}",
            "tags_key": "|",
            "search_text": f"chunk {i}",
        }
        for i in range(count)
    ]


def test_snapshot_answers_as_the_full_product() -> None:
    rng = np.random.default_rng(7)
    matrix, hard_query = hard_matrix(rng, MIN_ROWS + 200)
    snapshot = snapshot_from_rows(1, rows_of(len(matrix)), matrix.tolist())
    assert snapshot.prefilter is not None
    full = Snapshot(1, snapshot.columns, snapshot.matrix, snapshot.text)
    full.prefilter = None
    queries = [hard_query, *unit(rng.standard_normal((10, DIMS)))]
    for query in queries:
        for keep in [None, full.mask("security", None, (), []), full.mask(None, None, (), ["d0", "d5"])]:
            for limit in (5, 20):
                got = snapshot.nearest(query, keep, limit)
                want = full.nearest(query.tolist(), keep, limit)
                assert [r["_distance"] for r in got] == pytest.approx([r["_distance"] for r in want], abs=1e-6)
                distinct = len({round(r["_distance"], 6) for r in want}) == len(want)
                if distinct:  # (exact ties may come in another order)
                    assert [r["id"] for r in got] == [r["id"] for r in want]


def test_small_tables_use_the_full_product() -> None:
    assert make_prefilter(np.ones((MIN_ROWS - 1, DIMS), dtype=np.float32)) is None
    assert make_prefilter(np.ones((MIN_ROWS, DIMS), dtype=np.float32)) is not None


def test_a_copy_of_the_same_vectors_takes_the_previous_prefilter() -> None:
    """A fold makes a new version of the same rows: the int8 copy (a function of the matrix) is kept;
    any other matrix gets its own."""
    rng = np.random.default_rng(3)
    matrix = unit(rng.standard_normal((MIN_ROWS + 10, DIMS)))
    first = snapshot_from_rows(1, rows_of(len(matrix)), matrix.tolist())
    same = Snapshot(2, first.columns, matrix.copy(), first.text, previous=first)
    assert first.prefilter is not None and same.prefilter is first.prefilter
    changed = matrix.copy()
    changed[5] = unit(rng.standard_normal((1, DIMS)))[0]
    other = Snapshot(3, first.columns, changed, first.text, previous=first)
    assert other.prefilter is not None and other.prefilter is not first.prefilter
    query = changed[5]
    assert other.nearest(query, None, 1)[0]["id"] == "c5"
