"""The on-disk gradient cache: reuse, growth, refusal of a foreign directory, float16 storage."""

from __future__ import annotations

import copy
import json
import multiprocessing

import pytest
import torch

from hf_gradiend.gradients import GradientEngine
from hf_gradiend.gradients.cache import (
    CacheMismatchError,
    GradientCache,
    base_model_fingerprint,
    kinds_to_store,
    unit_key,
)
from hf_gradiend.gradients.engine import GradientPair
from hf_gradiend.gradients.store import GradientStore

TEXTS = ["Yesterday afternoon [MASK] walked to the old market.", "At noon [MASK] finally answered the letter."]


def test_cache_round_trip_and_growth(tmp_path):
    cache = GradientCache(tmp_path / "c", "fp", num_coordinates=5, capacity=1)
    pairs = [GradientPair(torch.randn(1, 5), torch.randn(1, 5)) for _ in range(3)]
    for i, pair in enumerate(pairs):
        cache.put(f"k{i}", pair)
    assert len(cache) == 3 and cache.capacity >= 3
    reopened = GradientCache(tmp_path / "c", "fp", num_coordinates=5, capacity=1)
    for i, pair in enumerate(pairs):
        got = reopened.get(f"k{i}")
        assert torch.equal(got.factual, pair.factual) and torch.equal(got.alternative, pair.alternative)
    assert reopened.get("missing") is None and reopened.hits == 3 and reopened.misses == 1


def test_a_cache_of_another_setup_is_refused_and_left_untouched(tmp_path):
    GradientCache(tmp_path / "c", "model-a", num_coordinates=5, capacity=2).put("k", GradientPair(
        torch.ones(1, 5), torch.ones(1, 5)))
    before = {p.name: p.read_bytes() for p in (tmp_path / "c").iterdir()}
    with pytest.raises(CacheMismatchError, match="fingerprint.*another gradient_cache_dir"):
        GradientCache(tmp_path / "c", "model-b", num_coordinates=5, capacity=2)
    assert {p.name: p.read_bytes() for p in (tmp_path / "c").iterdir()} == before


def test_a_cache_of_another_format_or_kinds_is_refused(tmp_path):
    directory = tmp_path / "c"
    GradientCache(directory, "fp", num_coordinates=3, capacity=2, kinds=["diff"]).put(
        "k", GradientPair(None, None, torch.ones(1, 3))
    )
    with pytest.raises(CacheMismatchError, match="kinds"):
        GradientCache(directory, "fp", num_coordinates=3, capacity=2, kinds=["factual", "alternative"])
    meta = json.loads((directory / "meta.json").read_text())
    (directory / "meta.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "format"}))
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    with pytest.raises(CacheMismatchError, match="format"):
        GradientCache(directory, "fp", num_coordinates=3, capacity=2, kinds=["diff"])
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before
    with pytest.raises(ValueError, match="'diff' alone"):
        GradientCache(tmp_path / "d", "fp", num_coordinates=3, capacity=2, kinds=["factual", "diff"])
    assert not (tmp_path / "d").exists()


def test_growth_extends_the_files_in_place(tmp_path):
    cache = GradientCache(tmp_path / "c", "fp", num_coordinates=6, capacity=2, kinds=["diff"])
    values = [torch.randn(1, 6) for _ in range(40)]
    inode = (tmp_path / "c" / "diff.bin").stat().st_ino
    for i, value in enumerate(values):
        cache.put(f"k{i}", GradientPair(None, None, value))
    assert cache.capacity >= 40 and (tmp_path / "c" / "diff.bin").stat().st_ino == inode  # never rewritten
    cache.close()
    reopened = GradientCache(tmp_path / "c", "fp", num_coordinates=6, capacity=2, kinds=["diff"])
    for i, value in enumerate(values):
        got = reopened.get(f"k{i}")
        assert got.factual is None and got.alternative is None and torch.equal(got.diff, value)
    got.diff.add_(1.0)  # a served row is a copy: changing it leaves the stored row alone
    assert torch.equal(reopened.get("k39").diff, values[-1])


def _value_of(key: str) -> torch.Tensor:
    return torch.full((1, 4), float(int(key[1:])))


def _put_keys(directory, order: list[str], barrier=None) -> None:
    cache = GradientCache(directory, "fp", num_coordinates=4, capacity=2, kinds=["diff"])
    if barrier is not None:
        barrier.wait(timeout=30)  # both processes put at the same time
    for key in order:
        cache.put(key, GradientPair(None, None, _value_of(key)))


def test_processes_share_a_directory_and_store_each_unit_once(tmp_path):
    keys = [f"k{i}" for i in range(400)]
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    orders = (keys, keys[::-1])
    workers = [context.Process(target=_put_keys, args=(tmp_path / "c", order, barrier)) for order in orders]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    cache = GradientCache(tmp_path / "c", "fp", num_coordinates=4, capacity=2, kinds=["diff"])
    assert len(cache) == 400 and sorted(cache.index.values()) == list(range(400))  # no key twice, no row shared
    for key in keys:
        assert torch.equal(cache.get(key).diff, _value_of(key)), key


def test_a_unit_put_by_another_handle_is_served_and_not_stored_twice(tmp_path):
    first = GradientCache(tmp_path / "c", "fp", num_coordinates=4, capacity=2, kinds=["diff"])
    second = GradientCache(tmp_path / "c", "fp", num_coordinates=4, capacity=2, kinds=["diff"])
    first.put("k1", GradientPair(None, None, _value_of("k1")))
    assert "k1" in second and torch.equal(second.get("k1").diff, _value_of("k1"))
    second.put("k1", GradientPair(None, None, _value_of("k7")))  # already stored: kept as it is
    second.put("k2", GradientPair(None, None, _value_of("k2")))
    assert first.get("k2") is not None and len(first) == len(second) == 2
    assert torch.equal(first.get("k1").diff, _value_of("k1"))


def test_a_key_line_cut_short_by_a_crash_is_dropped(tmp_path):
    _put_keys(tmp_path / "c", ["k1", "k2"])
    with open(tmp_path / "c" / "index.txt", "ab") as f:
        f.write(b"k3")  # the row of k3 may be half written: without its newline the key does not count
    cache = GradientCache(tmp_path / "c", "fp", num_coordinates=4, capacity=2, kinds=["diff"])
    assert len(cache) == 2 and cache.get("k3") is None
    cache.put("k4", GradientPair(None, None, _value_of("k4")))
    assert (tmp_path / "c" / "index.txt").read_text() == "k1\nk2\nk4\n"
    with pytest.raises(ValueError, match="newline"):
        cache.put("a\nb", GradientPair(None, None, _value_of("k5")))
    assert len(GradientCache(tmp_path / "c", "fp", num_coordinates=4, capacity=2, kinds=["diff"])) == 3


def test_diff_alone_is_stored_and_computed_in_one_backward_pass(bert, tmp_path):
    engine = GradientEngine(copy.deepcopy(bert[0]), bert[1], params=["*.layer.1.output.*"])
    asked = []
    original = engine.gradients
    engine.gradients = lambda *a, **k: asked.append(tuple(k["kinds"])) or original(*a, **k)
    width = engine.selection.num_coordinates
    cache = GradientCache(tmp_path / "c", "fp", num_coordinates=width, capacity=2, kinds=kinds_to_store(["diff"]))
    store = GradientStore(engine, ["diff"], None, cache)
    group = store.group(TEXTS, ["he", "they"], ["they", "she"])
    assert asked == [("diff",)] and cache.kinds == ("diff",)
    assert [p.name for p in sorted((tmp_path / "c").glob("*.bin"))] == ["diff.bin"]
    both = original(TEXTS, ["he", "they"], ["they", "she"], kinds=["factual", "alternative"])
    torch.testing.assert_close(group.get("diff"), both.get("diff"), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(store.group(TEXTS, ["he", "they"], ["they", "she"]).get("diff"), group.get("diff"))
    assert cache.hits == 1


def test_float16_storage_is_close(tmp_path):
    cache = GradientCache(tmp_path / "c", "fp", num_coordinates=4, capacity=2, kinds=["factual"], dtype="float16")
    value = torch.tensor([[0.5, -1e-3, 3.0, 7e-5]])
    cache.put("k", GradientPair(value, None))
    got = cache.get("k")
    assert got.alternative is None
    torch.testing.assert_close(got.factual, value, rtol=1e-3, atol=1e-7)
    assert json.loads((tmp_path / "c" / "meta.json").read_text())["dtype"] == "float16"


def test_store_serves_the_same_gradients_from_the_cache(bert, tmp_path):
    model, tokenizer = copy.deepcopy(bert[0]), bert[1]
    engine = GradientEngine(model, tokenizer, params=["*.layer.1.*"])
    coordinates = torch.tensor([0, 7, 100, 500])
    cache = GradientCache(tmp_path / "c", "fp", num_coordinates=4, capacity=4)
    store = GradientStore(engine, ["alternative", "diff"], coordinates, cache)
    first = store.group(TEXTS, ["he", "they"], ["they", "she"])
    calls = []
    engine.gradients = lambda *a, **k: calls.append(a)  # any recomputation would now fail loudly
    second = store.group(TEXTS, ["he", "they"], ["they", "she"])
    assert calls == [] and cache.hits == 1
    torch.testing.assert_close(second.get("diff"), first.get("diff"))
    full = GradientEngine(model, tokenizer, params=["*.layer.1.*"]).gradients(TEXTS, ["he", "they"], ["they", "she"])
    torch.testing.assert_close(first.get("diff"), full.get("diff")[:, coordinates])


def test_per_text_mixes_cached_and_new_texts(bert, tmp_path):
    engine = GradientEngine(copy.deepcopy(bert[0]), bert[1], params=["*.layer.1.output.*"])
    width = engine.selection.num_coordinates
    cache = GradientCache(tmp_path / "c", "fp", num_coordinates=width, capacity=2, kinds=["factual"])
    store = GradientStore(engine, ["factual"], None, cache)
    one = store.per_text(TEXTS[:1], ["he"], ["they"])
    both = store.per_text(TEXTS, ["he", "they"], ["they", "she"])
    assert cache.hits == 1 and len(cache) == 2
    torch.testing.assert_close(both.get("factual")[:1], one.get("factual"))


def test_fingerprint_changes_with_the_weights(bert):
    model = copy.deepcopy(bert[0])
    names = ["bert.encoder.layer.1.output.dense.weight"]
    before = base_model_fingerprint(model, names)
    with torch.no_grad():
        model.bert.encoder.layer[1].output.dense.weight[3, 4] += 1e-3
    assert base_model_fingerprint(model, names) != before
    assert unit_key(["a"], ["b"], ["c"]) != unit_key(["a"], ["c"], ["b"])


def test_per_text_batches_are_split_to_bound_memory(llama, monkeypatch):
    import hf_gradiend.gradients.store as store_module

    engine = GradientEngine(copy.deepcopy(llama[0]), llama[1], params=["*.layers.1.mlp.*"])
    store = GradientStore(engine, ["diff"])
    texts = TEXTS + ["In the morning [MASK] read the news quietly."]
    words, others = ["he", "they", "it"], ["they", "she", "they"]
    whole = store.per_text(texts, words, others)
    sizes = []
    original = engine.gradients
    engine.gradients = lambda *a, **k: sizes.append(len(a[0])) or original(*a, **k)
    monkeypatch.setattr(store_module, "PER_TEXT_BYTES", engine.selection.num_coordinates * 4 * 2)  # 2 texts of diff
    split = store.per_text(texts, words, others)
    assert sizes == [2, 1]
    torch.testing.assert_close(split.get("diff"), whole.get("diff"))
