"""Cosine / Spearman similarity over the union of kept coordinates, and top-k overlap as a similarity."""

from __future__ import annotations

import pytest
import torch

from hf_gradiend.compare import similarity_matrix, topk_overlap


def _spearman_by_hand(x: torch.Tensor, y: torch.Tensor) -> float:
    """Spearman's rho as Pearson of average ranks, ranks computed by counting (independent of the library's)."""

    def ranks(v):
        return torch.tensor([float((v < e).sum()) + (float((v == e).sum()) + 1) / 2 for e in v.tolist()])

    rx, ry = ranks(x.double()), ranks(y.double())
    rx, ry = rx - rx.mean(), ry - ry.mean()
    return float(rx @ ry / (rx.norm() * ry.norm()))


def test_cosine_of_importance_vectors(make_direction):
    a = make_direction([1, 2, 3], ["a", "b"])
    b = make_direction([3, 2, 50], ["c", "d"], seed=1)
    matrix = similarity_matrix([a, b])
    x, y = a.importance().double(), b.importance().double()
    expected = float(x @ y / (x.norm() * y.norm()))
    assert matrix.measure == "cosine"
    assert matrix["a/b", "c/d"] == pytest.approx(expected)
    assert matrix["a/b", "a/b"] == pytest.approx(1.0)
    with torch.no_grad():
        b.decoder.weight.neg_()  # swapped classes: same importance
    assert similarity_matrix([a, b])["a/b", "c/d"] == pytest.approx(expected)


def test_pruned_coordinates_count_as_zero_on_the_union(make_direction):
    pruned = make_direction([10, 20], ["p", "q"], coordinates=[30, 10, 20, 40])
    other = make_direction([20, 50], ["r", "s"], coordinates=[20, 50, 60])
    union = [10, 20, 30, 40, 50, 60]
    x = torch.zeros(len(union), dtype=torch.double)
    y = torch.zeros(len(union), dtype=torch.double)
    for coordinate, weight in zip(pruned.kept_coordinates.tolist(), pruned.importance().tolist(), strict=True):
        x[union.index(coordinate)] = weight
    for coordinate, weight in zip(other.kept_coordinates.tolist(), other.importance().tolist(), strict=True):
        y[union.index(coordinate)] = weight
    cosine = similarity_matrix([pruned, other], measure="cosine")
    assert cosine["p/q", "r/s"] == pytest.approx(float(x @ y / (x.norm() * y.norm())))
    spearman = similarity_matrix([pruned, other], measure="spearman")
    assert spearman["p/q", "r/s"] == pytest.approx(_spearman_by_hand(x, y))
    # a pair's value does not change when a third direction joins
    third = make_direction([1, 2], ["t", "u"], coordinates=[1, 2, 3])
    assert similarity_matrix([pruned, other, third], measure="spearman")["p/q", "r/s"] == pytest.approx(
        spearman["p/q", "r/s"]
    )


def test_spearman_on_shared_coordinates_with_ties(make_direction):
    a = make_direction(list(range(8)), ["a", "b"])
    b = make_direction(list(reversed(range(8))), ["c", "d"], seed=3)
    with torch.no_grad():  # ties: zero the noise of both
        a.decoder.weight[8:] = 0
        b.decoder.weight[8:] = 0
    matrix = similarity_matrix([a, b], measure="spearman")
    assert matrix["a/b", "c/d"] == pytest.approx(_spearman_by_hand(a.importance(), b.importance()))
    assert matrix["a/b", "a/b"] == pytest.approx(1.0)
    assert -1.0 <= matrix["a/b", "c/d"] <= 1.0


def test_zero_vector_gives_nan(make_direction):
    a, b = make_direction([1], ["a", "b"]), make_direction([2], ["c", "d"])
    with torch.no_grad():
        b.decoder.weight.zero_()
    matrix = similarity_matrix([a, b])
    assert torch.isnan(matrix.values[1]).all() and not torch.isnan(matrix.values[0, 0])


def test_topk_overlap_measure_matches_topk_overlap(make_direction):
    a = make_direction(list(range(10)), ["a", "b"])
    b = make_direction(list(range(5, 15)), ["c", "d"], seed=1)
    matrix = similarity_matrix([a, b], measure="topk_overlap", k=10)
    assert matrix.measure == "topk_overlap" and matrix.k == 10
    torch.testing.assert_close(matrix.values, topk_overlap([a, b], k=10).values)
    assert matrix["a/b", "c/d"] == pytest.approx(0.5)


def test_other_parts(make_direction):
    a, b = make_direction([1], ["a", "b"]), make_direction([2], ["c", "d"], seed=1)
    x, y = a.importance("decoder-bias").double(), b.importance("decoder-bias").double()
    assert similarity_matrix([a, b], part="decoder-bias")["a/b", "c/d"] == pytest.approx(
        float(x @ y / (x.norm() * y.norm()))
    )


def test_bad_measure_and_part(make_direction):
    a = make_direction([1])
    with pytest.raises(ValueError, match="measure='pearson'"):
        similarity_matrix([a], measure="pearson")
    with pytest.raises(ValueError, match="part='weights'"):
        similarity_matrix([a], part="weights")
