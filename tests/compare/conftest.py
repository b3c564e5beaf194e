"""Hand-built directions over one small selection of the tiny BERT, with chosen top coordinates."""

from __future__ import annotations

import pytest
import torch

from hf_gradiend import GradiendModel
from hf_gradiend.gradients import select_parameters

QUERY = "bert.encoder.layer.0.attention.self.query.*"  # 16x16 weight + 16 bias = 272 coordinates


def build_direction(base, selection, top, classes=None, coordinates=None, seed=0) -> GradiendModel:
    """
    A direction whose decoder weight is tiny noise (< 0.01) except at the base-global coordinates `top`, which get
    magnitudes len(top), len(top) - 1, ..., 1 in that order (alternating signs), so `topk(len(top))` is `top`.
    """
    coords = None if coordinates is None else torch.as_tensor(coordinates, dtype=torch.long)
    direction = GradiendModel.for_base_model(base, selection, coordinates=coords, feature_classes=classes)
    generator = torch.Generator().manual_seed(seed)
    weight = torch.rand(direction.config.input_dim, generator=generator) * 0.01
    position = {c: i for i, c in enumerate(direction.kept_coordinates.tolist())}
    for rank, coordinate in enumerate(top):
        weight[position[coordinate]] = (len(top) - rank) * (1 if rank % 2 == 0 else -1)
    with torch.no_grad():
        direction.decoder.weight[:, 0] = weight
    return direction


@pytest.fixture(scope="session")
def query_glob() -> str:
    """The parameter glob of the query selection."""
    return QUERY


@pytest.fixture(scope="session")
def query_base(bert):
    """(tiny BERT, selection of its first query projection)."""
    model, _ = bert
    return model, select_parameters(model, [QUERY])


@pytest.fixture
def make_direction(query_base):
    """Factory: `make_direction(top, classes=None, coordinates=None, seed=0)` over the query selection."""
    model, selection = query_base

    def make(top, classes=None, coordinates=None, seed=0):
        return build_direction(model, selection, top, classes, coordinates, seed)

    return make
