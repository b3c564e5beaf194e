"""Top-k sets over base-global coordinates, labels, and refusal of directions from different bases."""

from __future__ import annotations

import pytest
import torch

from hf_gradiend import GradiendConfig, GradiendModel
from hf_gradiend.compare import resolve_directions, topk_coordinates, topk_sets
from hf_gradiend.errors import IncompatibleDirectionsError
from hf_gradiend.gradients import select_parameters


def test_topk_sets_are_the_hand_set_coordinates(make_direction):
    a = make_direction(list(range(10)), ["3SG", "3PL"])
    b = make_direction([5, 6, 7, 8, 9, 200, 201, 202, 203, 271], ["1SG", "1PL"], seed=1)
    sets = topk_sets([a, b], k=10)
    assert list(sets) == ["3SG/3PL", "1SG/1PL"]
    assert sets["3SG/3PL"] == set(range(10))
    assert sets["1SG/1PL"] == {5, 6, 7, 8, 9, 200, 201, 202, 203, 271}
    # fewer than k: the k most important, ranked by |weight|
    assert topk_sets([a, b], k=3)["1SG/1PL"] == {5, 6, 7}


def test_pruned_direction_reports_base_global_coordinates(make_direction):
    kept = torch.tensor([250, 3, 40, 41, 7, 100, 120, 130])  # unsorted on purpose
    pruned = make_direction([120, 3, 250], ["3SG", "3PL"], coordinates=kept)
    full = make_direction([3, 250, 11], ["1SG", "1PL"])
    sets = topk_sets([pruned, full], k=3)
    assert sets["3SG/3PL"] == {3, 120, 250}
    assert sets["1SG/1PL"] == {3, 11, 250}
    coords = topk_coordinates([pruned, full], k=3)
    assert coords["3SG/3PL"].tolist() == [3, 120, 250]  # ascending


def test_k_beyond_kept_and_fractions(make_direction):
    pruned = make_direction([7, 3], coordinates=[3, 7, 9, 11], classes=["a", "b"])
    full = make_direction(list(range(27)), classes=["c", "d"])
    sets = topk_sets([pruned, full], k=100)
    assert sets["a/b"] == {3, 7, 9, 11}  # a pruned direction contributes all it keeps
    assert len(sets["c/d"]) == 100
    fractions = topk_sets([pruned, full], k=0.1)  # a fraction of each direction's kept coordinates
    assert len(fractions["a/b"]) == 1 and len(fractions["c/d"]) == 27
    assert fractions["c/d"] == set(range(27))


def test_labels_from_dict_duplicates_and_missing_classes(make_direction):
    a, b, c = make_direction([1], ["3SG", "3PL"]), make_direction([2], ["3SG", "3PL"]), make_direction([3])
    assert list(topk_sets([a, b, c], k=1)) == ["3SG/3PL", "3SG/3PL #2", "direction_2"]
    named = topk_sets({"number": a, "seed 2": b}, k=1)
    assert named == {"number": {1}, "seed 2": {2}}


@pytest.mark.parametrize("k", [0, -3, 1.5, "10", True])
def test_bad_k_is_refused(make_direction, k):
    a = make_direction([1], ["x", "y"])
    with pytest.raises((ValueError, TypeError), match="k="):
        topk_sets([a], k=k)


def test_bad_part_is_refused(make_direction):
    with pytest.raises(ValueError, match="part='decoder'"):
        topk_sets([make_direction([1])], k=1, part="decoder")


def test_directions_of_different_bases_are_refused(make_direction, llama):
    ours = make_direction([1, 2, 3], ["3SG", "3PL"])
    base = llama[0]
    theirs = GradiendModel.for_base_model(
        base, select_parameters(base, ["model.layers.0.self_attn.q_proj.*"]), feature_classes=["1SG", "1PL"]
    )
    with pytest.raises(IncompatibleDirectionsError) as info:
        topk_sets([ours, theirs], k=3)
    message = str(info.value)
    assert "'3SG/3PL'" in message and "'1SG/1PL'" in message
    assert "BertForMaskedLM" in message and "LlamaForCausalLM" in message
    assert ours.config.param_fingerprint in message and theirs.config.param_fingerprint in message


def test_other_selection_of_the_same_base_is_refused(make_direction, query_base):
    model, _ = query_base
    ours = make_direction([1], ["a", "b"])
    keys = GradiendModel.for_base_model(model, select_parameters(model, ["*.layer.0.attention.self.key.*"]))
    with pytest.raises(IncompatibleDirectionsError, match="different base weights"):
        topk_sets({"query": ours, "key": keys}, k=1)


def test_same_layout_but_other_base_name_is_refused(make_direction):
    a = make_direction([1], ["3SG", "3PL"])
    b = make_direction([1], ["1SG", "1PL"])
    a.config.base_model_name_or_path = "org/model-a"
    b.config.base_model_name_or_path = "org/model-b"
    with pytest.raises(IncompatibleDirectionsError, match="'org/model-a' and 'org/model-b'"):
        topk_sets([a, b], k=1)
    b.config.base_model_name_or_path = None  # unknown name: the layout alone decides
    assert topk_sets([a, b], k=1) == {"3SG/3PL": {1}, "1SG/1PL": {1}}


def test_directions_without_a_parameter_map_are_refused(make_direction):
    bare = GradiendModel(GradiendConfig(input_dim=272, feature_classes=["x", "y"]))
    with pytest.raises(IncompatibleDirectionsError, match="'x/y' records no parameter map"):
        topk_sets([make_direction([1], ["a", "b"]), bare], k=1)


def test_bad_containers_are_refused(make_direction):
    a = make_direction([1])
    with pytest.raises(ValueError, match="No directions"):
        topk_sets([], k=1)
    with pytest.raises(TypeError, match="not a single GradiendModel"):
        topk_sets(a, k=1)
    with pytest.raises(TypeError, match="not a single str"):
        topk_sets("runs/a", k=1)
    with pytest.raises(TypeError, match="Cannot compare a int"):
        topk_sets([a, 3], k=1)
    with pytest.raises(TypeError, match="must be a list or dict"):
        resolve_directions(5)
