"""Trainer at scale: cache reuse, pre/post-pruning, seeds, resume, bad input."""

from __future__ import annotations

import copy
import json
import os

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel

from hf_gradiend import GradiendTrainer
from hf_gradiend.gradients import GradientEngine
from hf_gradiend.training.pruning import PostPruneConfig, PrePruneConfig


def _count_engine_calls(monkeypatch):
    calls = []
    original = GradientEngine.gradients

    def counting(self, *args, **kwargs):
        calls.append(len(args[0]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GradientEngine, "gradients", counting)
    return calls


def test_three_seeds_with_pre_and_post_pruning_converge_and_reuse_the_cache(
    bert, tmp_path, monkeypatch, split_rows, make_args
):
    train, test = split_rows
    calls = _count_engine_calls(monkeypatch)
    args = make_args(
        max_seeds=3, min_convergent_seeds=3, pre_prune=PrePruneConfig(n_samples=8, topk=0.2),
        post_prune=PostPruneConfig(topk=0.25), eval_strategy="steps", eval_steps=50,
    )
    trainer = GradiendTrainer(copy.deepcopy(bert[0]), args=args, train_dataset=train, eval_dataset=test,
                              processing_class=bert[1])
    full = trainer.engine.selection.num_coordinates
    assert trainer.get_model().config.input_dim == round(0.2 * full)  # never the full size
    pre_prune_calls = len(calls)
    trainer.train()
    groups, eval_texts = len(trainer.train_dataset), len(test)
    # every group and every evaluation text was computed exactly once, whatever the seeds, epochs and evaluations
    assert sum(calls[pre_prune_calls:]) == groups * 4 + eval_texts
    report = json.loads((tmp_path / "out" / "seed_report.json").read_text())
    assert [r["seed"] for r in report] == [0, 1, 2] and all(r["converged"] for r in report)
    assert sum(r["selected"] for r in report) == 1
    direction = AutoModel.from_pretrained(tmp_path / "out")
    assert direction.config.input_dim == round(0.25 * round(0.2 * full))
    kept = load_file(tmp_path / "out" / "model.safetensors")["coordinates"]
    assert set(kept.tolist()) <= set(trainer.training_coordinates.tolist())  # base-global coordinates kept
    metrics = trainer.evaluate()
    assert metrics["eval_correlation"] > 0.9 and metrics["eval_mean_3SG"] > 0.5 > -0.5 > metrics["eval_mean_3PL"]


def test_training_stops_once_enough_seeds_converged(bert, rows, tmp_path, split_rows, make_args):
    train, test = split_rows
    args = make_args(max_seeds=3, min_convergent_seeds=1)
    trainer = GradiendTrainer(copy.deepcopy(bert[0]), args=args, train_dataset=train, eval_dataset=test,
                              processing_class=bert[1])
    trainer.train()
    assert [r.seed for r in trainer.seed_results] == [0]


def test_the_best_evaluated_state_is_what_train_leaves(bert, rows, tmp_path, split_rows, make_args):
    train, test = split_rows
    args = make_args(max_steps=40, eval_strategy="steps", eval_steps=10)
    trainer = GradiendTrainer(copy.deepcopy(bert[0]), args=args, train_dataset=train, eval_dataset=test,
                              processing_class=bert[1])
    trainer.train()
    logged = [abs(e["eval_correlation"]) for e in trainer.state.log_history if "eval_correlation" in e]
    saved = AutoModel.from_pretrained(args.output_dir)
    trainer._replace_model(saved)
    assert trainer.evaluate()["eval_correlation"] == pytest.approx(max(logged), abs=1e-5)


def test_resume_from_checkpoint_reaches_the_uninterrupted_weights(llama, rows, tmp_path, split_rows, make_args):
    train, _ = split_rows
    common = dict(max_steps=8, learning_rate=1e-3, save_strategy="steps", save_steps=4, params=["*.layers.1.mlp.*"])
    straight = GradiendTrainer(copy.deepcopy(llama[0]), args=make_args(tmp_path / "a", **common), train_dataset=train,
                               processing_class=llama[1])
    straight.train()
    interrupted = GradiendTrainer(copy.deepcopy(llama[0]), args=make_args(tmp_path / "b", **common),
                                  train_dataset=train, processing_class=llama[1])
    checkpoint = tmp_path / "a" / "out" / "checkpoint-4"
    assert checkpoint.is_dir()
    interrupted.train(resume_from_checkpoint=str(checkpoint))
    for name, value in straight.get_model().state_dict().items():
        torch.testing.assert_close(interrupted.get_model().state_dict()[name], value, rtol=0, atol=1e-7)


def test_fewer_rows_than_one_gradient_group_is_refused(bert, rows, tmp_path, make_args):
    with pytest.raises(ValueError, match=r"3 training rows, fewer than one gradient group \(gradient_batch_size=8\)"):
        GradiendTrainer(bert[0], args=make_args(gradient_batch_size=8), train_dataset=rows[:3],
                        processing_class=bert[1], feature_classes=["3SG", "3PL"])
    assert not os.path.exists(tmp_path / "out") and not os.path.exists(tmp_path / "cache")


def test_one_class_missing_is_refused(bert, rows, tmp_path, make_args):
    only_3sg = [r for r in rows if r["factual_class"] == "3SG"]
    with pytest.raises(ValueError, match=r"No rows of class\(es\) \['3PL'\]"):
        GradiendTrainer(bert[0], args=make_args(), train_dataset=only_3sg, processing_class=bert[1],
                        feature_classes=["3SG", "3PL"])
    assert not os.path.exists(tmp_path / "out")


def test_eval_steps_without_validation_rows_is_refused(bert, rows, tmp_path, make_args):
    with pytest.raises(ValueError, match="eval_strategy='steps' needs validation rows"):
        GradiendTrainer(bert[0], args=make_args(eval_strategy="steps", eval_steps=5), train_dataset=rows,
                        processing_class=bert[1])
    assert not os.path.exists(tmp_path / "out")


def test_a_cache_written_for_another_base_model_is_refused(bert, rows, tmp_path, split_rows, make_args):
    from hf_gradiend.gradients.cache import CacheMismatchError
    from hf_gradiend.testing_utils import tiny_bert

    train, _ = split_rows
    first = GradiendTrainer(copy.deepcopy(bert[0]), args=make_args(max_steps=2), train_dataset=train,
                            processing_class=bert[1])
    first.train()
    other = tiny_bert(bert[1], seed=1)  # same architecture, other weights
    second = GradiendTrainer(other, args=make_args(tmp_path / "second", max_steps=2, gradient_cache_dir=str(tmp_path /
                             "cache")), train_dataset=train, processing_class=bert[1])
    with pytest.raises(CacheMismatchError, match="fingerprint"):
        second.train()
    assert not os.path.exists(tmp_path / "second" / "out" / "model.safetensors")


def test_non_finite_gradients_stop_training_naming_the_texts(bert, rows, tmp_path, split_rows, make_args):
    train, _ = split_rows
    base = copy.deepcopy(bert[0])
    with torch.no_grad():
        base.bert.encoder.layer[1].output.dense.weight[0, 0] = float("nan")
    trainer = GradiendTrainer(base, args=make_args(max_steps=2, gradient_cache=False), train_dataset=train,
                              processing_class=bert[1])
    with pytest.raises(FloatingPointError, match=r"Non-finite gradients at step 0 for the texts \[\["):
        trainer.train()
    assert not os.path.exists(tmp_path / "out" / "model.safetensors")


def test_convergence_plot_renders_correlation_and_class_means(bert, rows, tmp_path, split_rows, make_args):
    pytest.importorskip("matplotlib")
    train, test = split_rows
    args = make_args(max_steps=20, eval_strategy="steps", eval_steps=5, max_seeds=2, min_convergent_seeds=2)
    trainer = GradiendTrainer(copy.deepcopy(bert[0]), args=args, train_dataset=train, eval_dataset=test,
                              processing_class=bert[1])
    trainer.train()
    figure, path = trainer.plot_training_convergence()
    assert path == tmp_path / "out" / "training_convergence.png" and path.stat().st_size > 10_000
    top, bottom = ([line for line in axes.lines if line.get_marker() == "o"] for axes in figure.axes)
    assert len(top) == 2  # one correlation line per seed
    assert [list(line.get_xdata()) for line in top] == [[5, 10, 15, 20]] * 2
    assert len(bottom) == 4  # two class means per seed


def test_convergence_plot_needs_evaluations(bert, rows, tmp_path, make_args):
    pytest.importorskip("matplotlib")
    trainer = GradiendTrainer(copy.deepcopy(bert[0]), args=make_args(max_steps=2), train_dataset=rows,
                              processing_class=bert[1])
    trainer.train()
    with pytest.raises(ValueError, match="eval_strategy='steps'"):
        trainer.plot_training_convergence()
    assert not (tmp_path / "out" / "training_convergence.png").exists()


def test_a_direction_that_cannot_fit_in_memory_is_refused(bert, rows, tmp_path, make_args, monkeypatch):
    import hf_gradiend.training.memory as memory

    monkeypatch.setattr(memory, "available_bytes", lambda device=None: 1024)
    with pytest.raises(MemoryError, match=r"needs about .* GB more, but only 0\.0 GB are available\. Pre-prune"):
        GradiendTrainer(bert[0], args=make_args(), train_dataset=rows, processing_class=bert[1])
    assert not os.path.exists(tmp_path / "out") and not os.path.exists(tmp_path / "cache")


def test_memory_estimate_counts_the_direction_and_its_optimizer(bert):
    from hf_gradiend.training.memory import training_bytes

    parts = training_bytes(1000, 2, bert[0], selected=50_000)
    assert parts["direction_and_optimizer"] == 4 * (3 * 1000 + 1) * 4
    assert parts["step_vectors"] == 3 * 2 * 1000 * 4
    assert parts["base_gradients"] == 2 * 50_000 * 4


def test_a_diff_to_diff_direction_caches_the_difference_alone(bert, tmp_path, split_rows, make_args, monkeypatch):
    train, test = split_rows
    kinds = []
    original = GradientEngine.gradients

    def recording(self, *args, **kwargs):
        kinds.append(tuple(kwargs["kinds"]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GradientEngine, "gradients", recording)
    args = make_args(max_steps=4, source="diff", target="diff", eval_strategy="steps", eval_steps=4)
    trainer = GradiendTrainer(copy.deepcopy(bert[0]), args=args, train_dataset=train, eval_dataset=test,
                              processing_class=bert[1])
    trainer.train()
    assert set(kinds) == {("diff",)}  # one backward pass of the loss difference per unit
    cache = trainer.gradient_store.cache
    assert cache.kinds == ("diff",)
    assert [p.name for p in cache.directory.glob("*.bin")] == ["diff.bin"]
    computed = len(kinds)
    trainer.evaluate()
    assert len(kinds) == computed  # the validation texts' differences are read back, not recomputed


def test_transitions_take_turns_and_the_smaller_one_is_cycled(bert, rows, tmp_path, make_args):
    from hf_gradiend.rows import as_dataset
    from hf_gradiend.training.groups import BalancedTransitionSampler, GradientGroups

    dataset = as_dataset([r for r in rows if r["factual_class"] == "3SG"] + [
        r for r in rows if r["factual_class"] == "3PL"][:3])
    groups = GradientGroups(dataset, ["3SG", "3PL"], group_size=1)
    sampler = BalancedTransitionSampler(groups, seed=0)
    order = list(sampler)
    big = max(len(t) for t in groups.transitions.values())
    assert len(order) == len(sampler) == 2 * big
    kinds = [next(k for k, v in groups.transitions.items() if i in v) for i in order]
    assert all(a != b for a, b in zip(kinds, kinds[1:], strict=False))  # the transitions alternate
    for key, indices in groups.transitions.items():
        seen = [i for i, k in zip(order, kinds, strict=True) if k == key]
        assert set(seen) == set(indices) and len(seen) == big  # every group, the smaller transition cycled
    sampler.set_epoch(1)
    assert list(sampler) != order and list(BalancedTransitionSampler(groups, seed=0)) == order  # seeded per epoch
    balanced = GradiendTrainer(copy.deepcopy(bert[0]), args=make_args(gradient_batch_size=1,
                               balance_transitions=True), train_dataset=dataset, processing_class=bert[1])
    assert isinstance(balanced._get_train_sampler(), BalancedTransitionSampler)
    balanced.train()  # the Trainer runs on the sampler's order
    uniform = GradiendTrainer(copy.deepcopy(bert[0]), args=make_args(gradient_batch_size=1), train_dataset=dataset,
                              processing_class=bert[1])
    assert not isinstance(uniform._get_train_sampler(), BalancedTransitionSampler)
