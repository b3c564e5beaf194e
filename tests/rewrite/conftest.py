"""Shared cases of the rewrite tests: a direction over each tiny model, dense or pruned, and inputs for logits."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

import hf_gradiend.rewrite  # noqa: F401  (registers the GRADIEND peft tuner)
from hf_gradiend import GradiendModel
from hf_gradiend.gradients import select_parameters
from hf_gradiend.testing_utils import toy_templates


def build_direction(
    base: PreTrainedModel,
    pruned: bool = False,
    seed: int = 0,
    params: list[str] | None = None,
    include_head: bool = True,
    fraction: float = 0.05,
) -> GradiendModel:
    """A direction over `base` with random decoder values (std 0.05), optionally keeping a random `fraction`."""
    selection = select_parameters(base, params, include_head=include_head)
    generator = torch.Generator().manual_seed(seed)
    coordinates = None
    if pruned:
        count = max(1, int(fraction * selection.num_coordinates))
        coordinates = torch.randperm(selection.num_coordinates, generator=generator)[:count]
    torch.manual_seed(seed)
    direction = GradiendModel.for_base_model(base, selection, coordinates=coordinates, feature_classes=["3SG", "3PL"])
    with torch.no_grad():
        direction.decoder.weight.normal_(0.0, 0.05, generator=generator)
        direction.decoder.bias.normal_(0.0, 0.05, generator=generator)
    return direction


def model_inputs(tokenizer: PreTrainedTokenizerBase) -> dict[str, torch.Tensor]:
    """Two padded texts (with the mask token for a masked LM)."""
    fill = tokenizer.mask_token or "they"
    texts = [t.replace("[MASK]", fill) for t in toy_templates()[:2]]
    return dict(tokenizer(texts, return_tensors="pt", padding=True))


@dataclass
class Case:
    """One row of the table: a tiny model (a private copy), its tokenizer, a direction and inputs."""

    name: str
    pruned: bool
    base: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    direction: GradiendModel
    inputs: dict[str, torch.Tensor]
    alpha: float = 2.0
    feature_value: float = -1.0

    def fresh_base(self) -> PreTrainedModel:
        """A copy of the base model to wrap (the case's own base stays the reference)."""
        return copy.deepcopy(self.base)

    @torch.no_grad()
    def logits(self, model) -> torch.Tensor:
        return model(**self.inputs).logits


CASES = [
    pytest.param((name, pruned), id=f"{name}-{'pruned' if pruned else 'dense'}")
    for name in ("bert", "llama", "gpt2")
    for pruned in (False, True)
]


@pytest.fixture(params=CASES)
def case(request) -> Case:
    """Each tiny model × dense/pruned direction over all its parameters (tied embeddings included)."""
    name, pruned = request.param
    model, tokenizer = request.getfixturevalue(name)
    base = copy.deepcopy(model)
    return Case(name, pruned, base, tokenizer, build_direction(base, pruned), model_inputs(tokenizer))


@pytest.fixture
def make_direction():
    """Factory: `make_direction(base, pruned=False, seed=0, params=None, include_head=True, fraction=0.05)`."""
    return build_direction


@pytest.fixture
def make_inputs():
    """Factory: `make_inputs(tokenizer)` -> padded inputs of two toy texts."""
    return model_inputs
