"""Helpers shared by the trainer tests: the toy rows split by template, and fast training arguments."""

from __future__ import annotations

import pytest

from hf_gradiend import GradiendTrainingArguments
from hf_gradiend.testing_utils import toy_templates


@pytest.fixture
def split_rows(rows):
    """(train, held-out) toy rows: the last four templates are never trained on."""
    held_out = set(toy_templates()[12:])
    return [r for r in rows if r["masked"] not in held_out], [r for r in rows if r["masked"] in held_out]


@pytest.fixture
def make_args(tmp_path):
    """`make_args(**overrides)`: arguments that train a tiny direction to |r| > 0.9 in a few seconds."""

    def make(root=None, **kwargs):
        root = root or tmp_path
        defaults = dict(
            output_dir=str(root / "out"), max_steps=150, learning_rate=1e-2, gradient_batch_size=4,
            source="factual", logging_strategy="no", disable_tqdm=True, use_cpu=True, seed=0,
            gradient_cache_dir=str(root / "cache"),
        )
        return GradiendTrainingArguments(**{**defaults, **kwargs})

    return make
