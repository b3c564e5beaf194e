"""Comparison inputs given as saved folders, trainers and mixtures; bad sources."""

from __future__ import annotations

import copy

import pytest

from hf_gradiend.compare import similarity_matrix, topk_overlap, topk_sets


@pytest.fixture
def saved(make_direction, tmp_path):
    a = make_direction(list(range(10)), ["3SG", "3PL"])
    b = make_direction([250, 3, 40, 41], ["1SG", "1PL"], coordinates=[250, 3, 40, 41, 7, 100], seed=1)
    c = make_direction([3, 7, 250, 11])
    for name, direction in (("a", a), ("b", b), ("unnamed_run", c)):
        direction.save_pretrained(tmp_path / name)
    return {"a": a, "b": b, "c": c}, tmp_path


def test_paths_load_like_the_models(saved):
    models, root = saved
    from_disk = topk_sets([root / "a", str(root / "b"), root / "unnamed_run"], k=4)
    assert list(from_disk) == ["3SG/3PL", "1SG/1PL", "unnamed_run"]  # no classes: the folder name
    in_memory = topk_sets([models["a"], models["b"], models["c"]], k=4)
    assert list(from_disk.values()) == list(in_memory.values())
    assert from_disk["1SG/1PL"] == {250, 3, 40, 41}  # pruned coordinates survive the round trip


def test_mixed_sources_with_names(saved):
    models, root = saved
    overlap = topk_overlap({"number": root / "b", "person": models["c"]}, k=4, value="intersection")
    assert overlap.labels == ("number", "person")
    assert overlap["number", "person"] == 2  # {3, 250}
    assert similarity_matrix([root / "a", models["a"]])["3SG/3PL", "3SG/3PL #2"] == pytest.approx(1.0)


def test_trainers_are_read_through_get_model(bert, query_glob, tmp_path):
    from hf_gradiend import GradiendTrainer, GradiendTrainingArguments

    model, tokenizer = bert
    trainers = [
        GradiendTrainer(
            copy.deepcopy(model), GradiendTrainingArguments(output_dir=str(tmp_path / name), params=[query_glob]),
            processing_class=tokenizer, feature_classes=classes,
        )
        for name, classes in (("one", ["3SG", "3PL"]), ("two", ["1SG", "1PL"]))
    ]
    sets = topk_sets(trainers, k=5)
    assert list(sets) == ["3SG/3PL", "1SG/1PL"]
    assert sets["3SG/3PL"] == set(trainers[0].get_model().topk(5).tolist())


def test_bad_sources_are_refused(saved, bert, tmp_path):
    models, root = saved
    with pytest.raises(ValueError, match="No saved direction at .*missing"):
        topk_sets([models["a"], root / "missing"], k=1)
    with pytest.raises(ValueError, match="No saved direction at"):
        topk_sets([models["a"], str(root / "missing")], k=1)
    (root / "empty").mkdir()
    with pytest.raises(ValueError, match="Could not load a GRADIEND direction from .*empty"):
        topk_sets([models["a"], root / "empty"], k=1)
    bert[0].save_pretrained(tmp_path / "bert")
    with pytest.raises(TypeError, match="holds a BertModel, not a GRADIEND direction"):
        topk_sets([models["a"], tmp_path / "bert"], k=1)

    class NotATrainer:
        def get_model(self):
            return "nope"

    with pytest.raises(TypeError, match=r"NotATrainer.get_model\(\) returned a str"):
        topk_sets([models["a"], NotATrainer()], k=1)
