"""The decoder grid on its own (no trainer): in-place edits and restore, contract, policies, early stop, bad input."""

from __future__ import annotations

import copy
import math
import warnings

import pytest
import torch

from hf_gradiend.evaluation import (
    GridPoint,
    InPlaceUpdate,
    LMSThresholdPolicy,
    LMSTimesMetricPolicy,
    Selection,
    SelectionPolicy,
    SelectionTarget,
    evaluate_decoder_grid,
)

ENTRY_KEYS = {
    "learning_rate", "feature_value", "lms", "base_lms", "target_probability", "base_target_probability",
    "other_probability", "base_other_probability", "gain", "score", "fallback", "target_class", "increase",
    "measured_on", "policy",
}
POINT_KEYS = {"learning_rate", "feature_value", "status", "reason", "lms", "lms_details", "probabilities", "seconds"}
ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def snapshot(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def assert_unchanged(model, before) -> None:
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]), name


def run(model, tokenizer, direction, rows, neutral, **kwargs):
    kwargs.setdefault("learning_rates", ALPHAS)
    kwargs.setdefault("show_progress", False)
    return evaluate_decoder_grid(model, tokenizer, direction, rows, neutral, **kwargs)


def test_grid_edits_in_place_and_restores_bit_identical_weights(lm, rows, neutral_texts, random_direction):
    model, tokenizer = lm
    direction = random_direction(model)
    before = snapshot(model)
    pointers = {n: p.data_ptr() for n, p in model.named_parameters()}
    selected = direction.selection.names[0]
    seen = []
    hook = model.register_forward_pre_hook(lambda m, a: seen.append(dict(m.named_parameters())[selected].sum()))
    try:
        results = run(model, tokenizer, direction, rows, neutral_texts, early_stop=False,
                      learning_rates=(1e-2, 1.0, 1e39))
    finally:
        hook.remove()
    assert_unchanged(model, before)
    assert {n: p.data_ptr() for n, p in model.named_parameters()} == pointers  # same tensors: no copies
    base_sum = before[selected].sum()
    assert any(not torch.equal(s, base_sum) for s in seen)  # the forward passes saw the edited weights
    statuses = [p["status"] for p in results["grid"]]
    assert statuses.count("evaluated") == 6 and statuses.count("skipped") == 3  # 3 h values, alpha=1e39 overflows


def test_in_place_update_adds_alpha_times_decoder_output_and_restores(lm_llama, random_direction):
    model, _ = lm_llama
    direction = random_direction(model, params=["model.layers.0.mlp.*"])
    before = snapshot(model)
    deltas = direction.update_for(-1.0, 0.5)
    with InPlaceUpdate(model, direction) as update:
        assert update.apply(1.0, 2.0) is None
        assert update.apply(-1.0, 0.5) is None  # replaces the previous point, never adds to it
        named = dict(model.named_parameters())
        for name, delta in deltas.items():
            assert torch.equal(named[name], torch.add(before[name], direction.update_for(-1.0)[name], alpha=0.5))
            assert torch.allclose(named[name], before[name] + delta, rtol=1e-6, atol=1e-12)
        untouched = [n for n in named if n not in deltas]
        assert untouched and all(torch.equal(named[n], before[n]) for n in untouched)
    assert_unchanged(model, before)


def test_weights_that_overflow_are_refused_and_restored(bert, random_direction):
    model = copy.deepcopy(bert[0])
    direction = random_direction(model, params=["bert.encoder.layer.0.output.dense.bias"])
    with torch.no_grad():
        model.bert.encoder.layer[0].output.dense.bias[0] = 2e38
        direction.decoder.weight.zero_()
        direction.decoder.bias.zero_()
        direction.decoder.bias[0] = 2e38
    before = snapshot(model)
    with InPlaceUpdate(model, direction) as update:
        assert "non-finite weights" in update.apply(1.0, 1.0)  # 2e38 + 2e38 overflows float32
        assert_unchanged(model, before)
        assert update.apply(1.0, 0.1) is None  # 2e38 + 2e37 does not
        assert float(model.bert.encoder.layer[0].output.dense.bias.detach()[0]) == pytest.approx(2.2e38, rel=1e-6)
    assert_unchanged(model, before)


def test_results_contract(lm, rows, neutral_texts, random_direction):
    model, tokenizer = lm
    results = run(model, tokenizer, random_direction(model), rows, neutral_texts, increase=None)
    assert {"3SG", "3PL", "3SG_weaken", "3PL_weaken", "grid", "base", "settings"} == set(results)
    for key in ("3SG", "3PL", "3SG_weaken", "3PL_weaken"):
        entry = results[key]
        assert ENTRY_KEYS <= set(entry)
        assert entry["learning_rate"] in ALPHAS and entry["feature_value"] in (1.0, 0.0, -1.0)
        assert entry["base_lms"] == results["base"]["lms"] > 0
        assert 0 <= entry["lms"] <= 1 and 0 <= entry["target_probability"] <= 1
        assert entry["increase"] == (not key.endswith("_weaken"))
        other = "3PL" if entry["target_class"] == "3SG" else "3SG"
        assert entry["measured_on"] == (other if entry["increase"] else entry["target_class"])
        point = next(p for p in results["grid"] if p["learning_rate"] == entry["learning_rate"]
                     and p["feature_value"] == entry["feature_value"])
        assert point["status"] == "evaluated" and point["lms"] == entry["lms"]
        assert point["probabilities"][entry["measured_on"]][entry["target_class"]] == entry["target_probability"]
        assert results["base"]["probabilities"][entry["measured_on"]][entry["target_class"]] == pytest.approx(
            entry["base_target_probability"])
    for point in results["grid"]:
        assert POINT_KEYS == set(point)
        assert (point["reason"] is None) == (point["status"] == "evaluated")
    assert results["settings"]["neutral_dropped"] == 0 and results["settings"]["neutral_source"] == "neutral"
    assert results["settings"]["words"] == {"3SG": ["he", "she", "it"], "3PL": ["they"]}


def test_threshold_policy_picks_the_largest_gain_among_points_keeping_the_lms(
    lm_bert, rows, neutral_texts, random_direction
):
    model, tokenizer = lm_bert
    results = run(model, tokenizer, random_direction(model), rows, neutral_texts, increase=None, early_stop=False)
    base = results["base"]
    evaluated = [p for p in results["grid"] if p["status"] == "evaluated"]
    assert any(p["lms"] < 0.99 * base["lms"] for p in evaluated)  # the constraint bites somewhere
    for key in ("3SG", "3PL", "3SG_weaken", "3PL_weaken"):
        entry = results[key]
        target, rows_class, sign = entry["target_class"], entry["measured_on"], 1 if entry["increase"] else -1
        admissible = [p for p in evaluated if p["lms"] >= 0.99 * base["lms"]]
        best = max(sign * (p["probabilities"][rows_class][target] - base["probabilities"][rows_class][target])
                   for p in admissible)
        assert entry["gain"] == pytest.approx(best)
        assert entry["lms"] >= 0.99 * entry["base_lms"] and not entry["fallback"]


def test_product_policy_picks_the_argmax_of_metric_times_lms(lm_gpt2, rows, neutral_texts, random_direction):
    model, tokenizer = lm_gpt2
    results = run(model, tokenizer, random_direction(model), rows, neutral_texts, increase=None, early_stop=False,
                  policy="lms_times_metric")
    evaluated = [p for p in results["grid"] if p["status"] == "evaluated"]
    for key in ("3SG", "3PL_weaken"):
        entry = results[key]
        target, rows_class = entry["target_class"], entry["measured_on"]

        def metric(p, entry=entry, target=target, rows_class=rows_class):
            value = p["probabilities"][rows_class][target]
            return (value if entry["increase"] else 1 - value) * p["lms"]

        assert entry["score"] == pytest.approx(max(metric(p) for p in evaluated))
        assert entry["policy"] == "lms_times_metric"


def test_early_stop_skips_larger_alphas_once_the_lms_falls_below_the_constraint(
    lm_llama, rows, neutral_texts, random_direction
):
    model, tokenizer = lm_llama
    results = run(model, tokenizer, random_direction(model), rows, neutral_texts)
    threshold = 0.99 * results["base"]["lms"]
    start = len(ALPHAS) // 2  # each line starts at its middle alpha
    stopped_any = False
    for h in (1.0, 0.0, -1.0):
        line = [p for p in results["grid"] if p["feature_value"] == h]
        assert [p["learning_rate"] for p in line] == sorted(ALPHAS)
        assert line[start]["status"] == "evaluated"
        below = [i for i, p in enumerate(line) if i >= start and p["status"] == "evaluated" and p["lms"] < threshold]
        if below:
            stopped_any = True
            assert all(p["status"] == "skipped" and p["reason"].startswith("early stop") for p in line[below[0] + 1:])
            assert all(p["status"] == "evaluated" for p in line[start: below[0]])
        for i, p in enumerate(line):
            if p["status"] == "skipped":
                expected = ("LMS", "gain of every target fell") if i > start else ("dominated by", "loses for every")
                assert any(e in p["reason"] for e in expected), p["reason"]
    assert stopped_any


def test_a_line_starts_in_the_middle_and_skips_alphas_a_better_point_dominates(
    lm_llama, rows, neutral_texts, random_direction, monkeypatch
):
    """Synthetic scores: h=-1 raises P(3SG) linearly in alpha until the LMS breaks at alpha=10; h=+1 lowers it."""
    from hf_gradiend.evaluation import grid_search as decoder_module
    from hf_gradiend.evaluation import run_grid

    model, _ = lm_llama
    state = {"point": (0.0, 0.0)}
    original_apply, original_restore = InPlaceUpdate.apply, InPlaceUpdate.restore

    def apply(self, h, alpha):
        state["point"] = (h, alpha)
        return original_apply(self, h, alpha)

    def restore(self):
        state["point"] = (0.0, 0.0)
        return original_restore(self)

    monkeypatch.setattr(decoder_module.InPlaceUpdate, "apply", apply)
    monkeypatch.setattr(decoder_module.InPlaceUpdate, "restore", restore)

    def score(_model):
        h, alpha = state["point"]
        lms = 0.5 if alpha < 10 else 0.1
        return {"lms": lms}, {"3PL": {"3SG": 0.1 - 0.01 * h * alpha, "3PL": 0.5}}

    alphas, targets = (0.01, 0.1, 1.0, 10.0), [SelectionTarget("3SG", "3PL", True)]
    policy = LMSThresholdPolicy()
    grids = {
        stop: run_grid(model, random_direction(model), score, alphas, (1.0, -1.0), policy, targets, stop, False)
        for stop in (True, False)
    }
    base, points = grids[True]
    status = {(p.feature_value, p.learning_rate): p.status for p in points}
    assert [(p.feature_value, p.learning_rate) for p in points] == [(h, a) for h in (1.0, -1.0) for a in alphas]
    # h=-1: alpha=1 keeps the LMS and gains, so 0.1 and 0.01 are dominated; alpha=10 breaks the LMS
    assert [status[(-1.0, a)] for a in alphas] == ["skipped", "skipped", "evaluated", "evaluated"]
    # h=+1 loses for the target at alpha=1: of the smaller alphas only the smallest (least harmful) is scored
    assert [status[(1.0, a)] for a in alphas] == ["evaluated", "skipped", "evaluated", "evaluated"]
    reasons = {(p.feature_value, p.learning_rate): p.reason for p in points}
    assert "loses for every target" in reasons[(1.0, 0.1)] and "dominated" in reasons[(-1.0, 0.01)]
    chosen = {stop: policy.select([p for p in grid[1] if p.status == "evaluated"], grid[0], targets[0]).point
              for stop, grid in grids.items()}
    assert (chosen[True].learning_rate, chosen[True].feature_value) == (1.0, -1.0)
    assert (chosen[False].learning_rate, chosen[False].feature_value) == (1.0, -1.0)  # the same as scoring all


def _point(alpha: float, h: float, p_3sg: float, lms: float = 0.5) -> GridPoint:
    return GridPoint(alpha, h, "evaluated", lms=lms, probabilities={"3PL": {"3SG": p_3sg, "3PL": 0.5}})


def test_threshold_policy_stops_a_direction_whose_gain_falls_twice_below_zero():
    policy, base = LMSThresholdPolicy(), GridPoint(None, None, "base", lms=0.5, probabilities={"3PL": {"3SG": 0.10}})
    targets = [SelectionTarget("3SG", "3PL", True)]
    first, second, third = _point(0.1, 1.0, 0.09), _point(0.2, 1.0, 0.07), _point(0.5, 1.0, 0.08)
    assert policy.stop_reason(first, base, [first], targets) is None  # one falling point is not enough
    reason = policy.stop_reason(second, base, [first, second], targets)
    assert reason is not None and "h=1" in reason and "gain of every target" in reason
    assert policy.stop_reason(third, base, [first, second, third], targets) is None  # rising again: go on
    rising = _point(0.2, -1.0, 0.12)
    assert policy.stop_reason(rising, base, [_point(0.1, -1.0, 0.11), rising], targets) is None
    # a second target that still gains keeps the direction alive
    weaken = SelectionTarget("3PL", "3SG", False)
    other = GridPoint(0.2, 1.0, "evaluated", lms=0.5, probabilities={"3PL": {"3SG": 0.07, "3PL": 0.4}})
    prior = GridPoint(0.1, 1.0, "evaluated", lms=0.5, probabilities={"3PL": {"3SG": 0.09, "3PL": 0.45}})
    base_both = GridPoint(None, None, "base", lms=0.5, probabilities={"3PL": {"3SG": 0.10, "3PL": 0.5}})
    assert policy.stop_reason(other, base_both, [prior, other], targets + [weaken]) is None


def test_unreachable_constraint_falls_back_to_the_smallest_alpha_with_a_warning(
    lm_bert, rows, neutral_texts, random_direction
):
    model, tokenizer = lm_bert
    with pytest.warns(UserWarning, match="falling back to the smallest learning rate"):
        results = run(model, tokenizer, random_direction(model), rows, neutral_texts,
                      policy=LMSThresholdPolicy(ratio=2.0))
    start = len(ALPHAS) // 2  # each line starts in the middle, stops upwards at once, and descends to the smallest
    evaluated = [p for p in results["grid"] if p["status"] == "evaluated"]
    assert [p["learning_rate"] for p in evaluated] == list(ALPHAS[: start + 1]) * 3
    assert sum(p["status"] == "skipped" for p in results["grid"]) == 3 * (len(ALPHAS) - start - 1)
    for key in ("3SG", "3PL"):
        assert results[key]["fallback"] and results[key]["learning_rate"] == ALPHAS[0]


def test_product_policy_stops_once_the_lms_is_below_every_best_product(lm_gpt2, rows, neutral_texts, random_direction):
    model, tokenizer = lm_gpt2
    full = run(model, tokenizer, random_direction(model, scale=100.0), rows, neutral_texts, policy="lms_times_metric",
               early_stop=False, increase=None)
    stopped = run(model, tokenizer, random_direction(model, scale=100.0), rows, neutral_texts,
                  policy="lms_times_metric", increase=None)
    assert any(p["status"] == "skipped" for p in stopped["grid"])
    for key in ("3SG", "3PL", "3SG_weaken", "3PL_weaken"):  # skipping lost nothing
        assert (stopped[key]["learning_rate"], stopped[key]["feature_value"]) == (
            full[key]["learning_rate"], full[key]["feature_value"])


def test_non_finite_points_are_skipped_with_the_reason_and_never_chosen(
    lm_bert, rows, neutral_texts, random_direction
):
    model, tokenizer = lm_bert
    before = snapshot(model)
    results = run(model, tokenizer, random_direction(model), rows, neutral_texts, learning_rates=(1e-3, 1e30, 1e39),
                  feature_values=(1.0,), increase=None, early_stop=False)
    points = {p["learning_rate"]: p for p in results["grid"]}
    assert points[1e-3]["status"] == "evaluated"
    for alpha in (1e30, 1e39):
        assert points[alpha]["status"] == "skipped" and "non-finite" in points[alpha]["reason"]
    assert "update alpha*dec(h) has non-finite values" in points[1e39]["reason"]
    for key in ("3SG", "3PL", "3SG_weaken", "3PL_weaken"):
        assert results[key]["learning_rate"] == 1e-3
    assert_unchanged(model, before)


def test_no_scorable_point_is_an_error(lm_bert, rows, neutral_texts, random_direction):
    model, tokenizer = lm_bert
    with pytest.raises(ValueError, match="No grid point could be scored"):
        run(model, tokenizer, random_direction(model), rows, neutral_texts, learning_rates=(1e39,))


def test_feature_value_zero_is_the_decoder_bias_alone(lm_gpt2, rows, neutral_texts, random_direction):
    model, tokenizer = lm_gpt2
    direction = random_direction(model)
    results = run(model, tokenizer, direction, rows, neutral_texts, feature_values=(0.0,), learning_rates=(1.0,))
    assert results["grid"][0]["status"] == "evaluated"
    direction.config.decoder_bias = False
    with torch.no_grad():
        direction.decoder.bias.zero_()
    results = run(model, tokenizer, direction, rows, neutral_texts, feature_values=(0.0, 1.0), learning_rates=(1.0,))
    assert results["grid"][0]["status"] == "skipped" and "zero" in results["grid"][0]["reason"]
    assert results["3SG"]["feature_value"] == 1.0


def test_custom_policy(lm_llama, rows, neutral_texts, random_direction):
    class LargestStep(SelectionPolicy):
        name = "largest_step"

        def select(self, points, base, target):
            best = max(points, key=lambda p: abs(p.learning_rate))
            return Selection(best, abs(best.learning_rate))

    model, tokenizer = lm_llama
    results = run(model, tokenizer, random_direction(model), rows, neutral_texts, policy=LargestStep())
    assert results["3SG"]["learning_rate"] == max(ALPHAS) and results["3SG"]["policy"] == "largest_step"
    assert all(p["status"] == "evaluated" for p in results["grid"])  # the base class never stops early


def test_weakening(lm_bert, rows, neutral_texts, random_direction):
    model, tokenizer = lm_bert
    results = run(model, tokenizer, random_direction(model), rows, neutral_texts, target_class="3PL", increase=False)
    assert set(results) == {"3PL_weaken", "grid", "base", "settings"}
    entry = results["3PL_weaken"]
    assert entry["measured_on"] == "3PL"
    assert entry["gain"] == pytest.approx(entry["base_target_probability"] - entry["target_probability"])


def test_neutral_texts_with_target_words_are_dropped_and_counted(lm_bert, rows, neutral_texts, random_direction):
    model, tokenizer = lm_bert
    polluted = neutral_texts + ["After school he played near the river.", "They waited for the late train."]
    with pytest.warns(UserWarning, match="2 of 14 texts .* contain target words"):
        results = run(model, tokenizer, random_direction(model), rows, polluted, learning_rates=(0.1,))
    clean = run(model, tokenizer, random_direction(model), rows, neutral_texts, learning_rates=(0.1,))
    assert results["settings"]["neutral_dropped"] == 2 and results["settings"]["neutral_texts"] == len(neutral_texts)
    assert results["base"]["lms_details"] == clean["base"]["lms_details"]
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="All 2 neutral texts contain target words"):
        run(model, tokenizer, random_direction(model), rows, polluted[-2:])


def test_without_neutral_texts_the_rows_are_used_with_a_warning(lm_gpt2, rows, random_direction):
    model, tokenizer = lm_gpt2
    with pytest.warns(UserWarning, match="No neutral texts"):
        results = run(model, tokenizer, random_direction(model), rows, None, learning_rates=(0.1,))
    assert results["settings"]["neutral_source"] == "rows"
    assert math.isfinite(results["base"]["lms"])


def test_max_size_caps_rows_per_class_and_neutral_texts(lm_bert, rows, neutral_texts, random_direction):
    model, tokenizer = lm_bert
    results = run(model, tokenizer, random_direction(model), rows, neutral_texts, learning_rates=(0.1,), max_size=5)
    assert results["settings"]["rows"] == 10 and results["settings"]["neutral_texts"] == 5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"target_class": "1SG"}, ValueError, "target_class='1SG' is not one of"),
        ({"increase": "yes"}, TypeError, "increase must be"),
        ({"learning_rates": ()}, ValueError, "learning_rates is empty"),
        ({"learning_rates": (0.1, 0.0)}, ValueError, "contains 0"),
        ({"learning_rates": (float("nan"),)}, ValueError, "finite numbers"),
        ({"feature_values": (float("inf"),)}, ValueError, "finite numbers"),
        ({"policy": "best"}, ValueError, "policy='best' is not one of"),
        ({"max_size": 0}, ValueError, "max_size=0"),
    ],
)
def test_bad_arguments_fail_before_any_scoring(lm_bert, rows, neutral_texts, random_direction, kwargs, error, match):
    model, tokenizer = lm_bert
    calls = []
    hook = model.register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        with pytest.raises(error, match=match):
            run(model, tokenizer, random_direction(model), rows, neutral_texts, **kwargs)
    finally:
        hook.remove()
    assert not calls


def test_rows_must_cover_both_classes(lm_bert, rows, neutral_texts, random_direction):
    model, tokenizer = lm_bert
    only_3sg = [r for r in rows if r["factual_class"] == "3SG"]
    with pytest.raises(ValueError, match=r"no texts of class\(es\) \['3PL'\]"):
        run(model, tokenizer, random_direction(model), only_3sg, neutral_texts)


def test_progress_and_no_warning_on_a_healthy_run(lm_llama, rows, neutral_texts, random_direction):
    model, tokenizer = lm_llama
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = run(model, tokenizer, random_direction(model), rows, neutral_texts, learning_rates=(1e-3, 1e-2))
    assert results["settings"]["policy"] == {"name": "lms_threshold", "ratio": 0.99}
    assert isinstance(LMSTimesMetricPolicy().describe(), dict)
