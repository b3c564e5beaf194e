"""GradiendTrainer on tiny models: learning a direction, evaluation logs, saving, bad input."""

from __future__ import annotations

import copy
import os

import pytest
import torch
from transformers import AutoModel

import hf_gradiend  # noqa: F401
from hf_gradiend import GradiendModel, GradiendTrainer


def test_trainer_learns_a_separating_direction_on_tiny_bert(bert, rows, tmp_path, split_rows, make_args):
    train, test = split_rows
    base = copy.deepcopy(bert[0])
    before = {n: p.detach().clone() for n, p in base.named_parameters()}
    trainer = GradiendTrainer(
        base, args=make_args(), train_dataset=train, eval_dataset=test, processing_class=bert[1]
    )
    trainer.train()
    metrics = trainer.evaluate()
    assert metrics["eval_correlation"] > 0.9  # oriented: the first class (3SG) encodes as +1
    assert metrics["eval_mean_3SG"] > 0 > metrics["eval_mean_3PL"]
    assert metrics["eval_n_3SG"] == metrics["eval_n_3PL"] == 12
    for name, p in base.named_parameters():  # the base model is frozen
        assert torch.equal(p.detach(), before[name]), name


def test_flip_sign_preserves_the_decoder_output(bert):
    from hf_gradiend.gradients import select_parameters

    direction = GradiendModel.for_base_model(bert[0], select_parameters(bert[0], ["*.layer.1.output.*"]))
    x = torch.randn(4, direction.config.input_dim)
    before = direction(x)
    direction.flip_sign_()
    after = direction(x)
    torch.testing.assert_close(after.encoding, -before.encoding)
    torch.testing.assert_close(after.reconstruction, before.reconstruction)


def test_default_optimizer_steps_full_size_on_gradiend_scale_gradients(bert, rows, make_args):
    # GRADIEND's own gradients are ~1e-13 to 1e-8 (a mean over many coordinates of squared base gradients); the
    # Trainer's AdamW must still move every weight by about the learning rate, which AdamW's usual eps=1e-8 does not.
    args = make_args(learning_rate=1e-3)
    trainer = GradiendTrainer(bert[0], args=args, train_dataset=rows, processing_class=bert[1])
    direction = trainer.get_model()
    optimizer = trainer.create_optimizer()
    before = {n: p.detach().clone() for n, p in direction.named_parameters()}
    generator = torch.Generator().manual_seed(0)
    for p in direction.parameters():  # log-uniform magnitudes in [1e-13, 1e-8], random signs
        exponent = torch.empty(p.shape).uniform_(-13, -8, generator=generator)
        sign = torch.randint(0, 2, p.shape, generator=generator) * 2 - 1
        p.grad = sign * 10.0 ** exponent
    optimizer.step()  # AdamW's first step moves each weight by lr · g / (|g| + eps)
    for name, p in direction.named_parameters():
        moved = (before[name] - p.detach()) * p.grad.sign()
        torch.testing.assert_close(moved, torch.full_like(moved, 1e-3), rtol=0.01, atol=0, msg=name)


def test_evaluation_is_logged_at_eval_steps_and_model_saves_for_automodel(llama, split_rows, make_args):
    train, test = split_rows
    args = make_args(max_steps=6, eval_strategy="steps", eval_steps=3, params=["*.layers.1.*"])
    trainer = GradiendTrainer(
        copy.deepcopy(llama[0]), args=args, train_dataset=train, eval_dataset=test, processing_class=llama[1]
    )
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "eval_correlation" in entry]
    assert [entry["step"] for entry in logged] == [3, 6]
    assert {"eval_mean_3SG", "eval_mean_3PL", "eval_accuracy"} <= set(logged[0])
    trainer.save_model()
    loaded = AutoModel.from_pretrained(args.output_dir)
    assert isinstance(loaded, GradiendModel)
    assert loaded.config.feature_classes == ["3SG", "3PL"] and loaded.config.objective == "causal_lm"
    assert loaded.config.param_names == list(trainer.engine.selection.names)
    assert torch.equal(loaded.decoder.weight, trainer.get_model().decoder.weight)


def test_gradient_groups_hold_one_transition(rows, bert, tmp_path, make_args):
    trainer = GradiendTrainer(copy.deepcopy(bert[0]), args=make_args(gradient_batch_size=5), train_dataset=rows,
                              processing_class=bert[1])
    groups = trainer.train_dataset
    for index in range(len(groups)):
        members = [groups.dataset[i] for i in groups.groups[index]]
        assert len({(m["factual_class"], m["alternative_class"]) for m in members}) == 1
        assert 1 <= len(members) <= 5


def test_continuing_a_direction_on_another_base_is_refused(bert, llama, tmp_path, make_args):
    from hf_gradiend import ParameterMismatchError
    from hf_gradiend.gradients import select_parameters

    direction = GradiendModel.for_base_model(bert[0], select_parameters(bert[0], ["*.layer.1.output.*"]))
    with pytest.raises(ParameterMismatchError, match="bert.encoder.layer.1.output"):
        GradiendTrainer(llama[0], args=make_args(), model=direction, processing_class=llama[1],
                        feature_classes=["3SG", "3PL"])
    assert not os.path.exists(tmp_path / "out")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: {**r, "masked": r["masked"].replace("[MASK]", "___")}, "has no placeholder"),
        (lambda r: {**r, "alternative": "zebra"}, "cannot encode the target word 'zebra'"),
    ],
)
def test_bad_rows_fail_with_a_clear_error_and_write_nothing(bert, rows, tmp_path, mutate, message, make_args):
    bad = [mutate(r) for r in rows]
    trainer = GradiendTrainer(copy.deepcopy(bert[0]), args=make_args(max_steps=2), train_dataset=bad,
                              processing_class=bert[1])
    with pytest.raises(ValueError, match=message):
        trainer.train()
    assert not os.path.exists(tmp_path / "out") or not any((tmp_path / "out").iterdir())


def test_rows_need_the_trainer_columns_and_two_classes(bert, rows, tmp_path, make_args):
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['alternative'\]"):
        GradiendTrainer(bert[0], args=make_args(), processing_class=bert[1],
                        train_dataset=[{k: v for k, v in r.items() if k != "alternative"} for r in rows])
    one_class = [r for r in rows if r["factual_class"] == "3SG"]
    with pytest.raises(ValueError, match=r"Found 1 factual classes \['3SG'\]"):
        GradiendTrainer(bert[0], args=make_args(), processing_class=bert[1], train_dataset=one_class)
    assert not os.path.exists(tmp_path / "out")
