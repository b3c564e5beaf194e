"""Pairwise top-k overlap on hand-built directions with known intersections, and the labelled matrix."""

from __future__ import annotations

import pytest
import torch

from hf_gradiend.compare import LabelledMatrix, overlap_matrix, topk_overlap


@pytest.fixture
def three(make_direction):
    a = make_direction(list(range(10)), ["3SG", "3PL"])  # {0..9}
    b = make_direction(list(range(6, 16)), ["1SG", "1PL"], seed=1)  # {6..15}: 4 shared with a
    c = make_direction([0, 15, 100, 101, 102, 103, 104, 105, 106, 107], ["2SG", "3SG"], seed=2)  # 1 with a, 1 with b
    return [a, b, c]


def test_intersection_counts(three):
    overlap = topk_overlap(three, k=10, value="intersection")
    assert overlap.labels == ("3SG/3PL", "1SG/1PL", "2SG/3SG")
    assert overlap.values.dtype == torch.long
    assert overlap.values.tolist() == [[10, 4, 1], [4, 10, 1], [1, 1, 10]]
    assert overlap["1SG/1PL", "3SG/3PL"] == 4
    assert overlap.measure == "intersection" and overlap.k == 10 and overlap.part == "decoder-weight"


def test_intersection_fraction_divides_by_the_smaller_set(three, make_direction):
    overlap = topk_overlap(three, k=10)  # default value="intersection_frac"
    expected = torch.tensor([[1.0, 0.4, 0.1], [0.4, 1.0, 0.1], [0.1, 0.1, 1.0]], dtype=torch.double)
    torch.testing.assert_close(overlap.values, expected)
    small = make_direction([3, 4], ["x", "y"], coordinates=[3, 4])  # keeps 2 coordinates, both inside {0..9}
    mixed = topk_overlap([three[0], small, three[1]], k=10)
    assert mixed["3SG/3PL", "x/y"] == 1.0  # 2 / min(10, 2)
    assert mixed["x/y", "1SG/1PL"] == 0.0
    assert topk_overlap([three[0], small], k=10, value="intersection")["x/y", "x/y"] == 2


def test_differently_pruned_directions_overlap_in_base_coordinates(make_direction):
    full = make_direction([20, 21, 22, 23], ["a", "b"])
    pruned = make_direction([23, 22, 90, 91], ["c", "d"], coordinates=[90, 91, 22, 23, 5, 6, 7])
    other = make_direction([5, 6, 7, 20], ["e", "f"], coordinates=[5, 6, 7, 20, 90])
    overlap = topk_overlap([full, pruned, other], k=4, value="intersection")
    assert overlap.values.tolist() == [[4, 2, 1], [2, 4, 0], [1, 0, 4]]


def test_overlap_matrix_from_given_sets_and_bad_value(make_direction):
    empty = torch.tensor([], dtype=torch.long)
    matrix = overlap_matrix({"p": torch.tensor([1, 2, 3]), "q": torch.tensor([3, 4]), "r": empty})
    assert matrix.values.tolist() == [[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 0.0]]
    with pytest.raises(ValueError, match="value='jaccard'"):
        topk_overlap([make_direction([1])], k=1, value="jaccard")


def test_labelled_matrix_access_and_export(three):
    overlap = topk_overlap(three, k=10, value="intersection")
    assert overlap.to_dict()["3SG/3PL"] == {"3SG/3PL": 10, "1SG/1PL": 4, "2SG/3SG": 1}
    frame = overlap.to_pandas()
    assert list(frame.index) == list(overlap.labels) == list(frame.columns)
    assert frame.loc["3SG/3PL", "1SG/1PL"] == 4
    text = str(overlap)
    assert text.splitlines()[1].split() == ["3SG/3PL", "10", "4", "1"]
    with pytest.raises(KeyError, match="No label 'nope'"):
        overlap["nope", "3SG/3PL"]
    with pytest.raises(TypeError, match="pair of labels"):
        overlap["3SG/3PL"]
    with pytest.raises(ValueError, match="unique"):
        LabelledMatrix(("a", "a"), torch.zeros(2, 2), "cosine")
    with pytest.raises(ValueError, match="shape"):
        LabelledMatrix(("a", "b"), torch.zeros(3, 3), "cosine")
