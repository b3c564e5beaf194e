"""Encoder analysis: how the encoding `h` separates the two classes, and where feature-neutral texts land.

Three groups of texts are encoded (each from its source gradient, as in training):

- `"training"`: the split's masked rows, labelled +1 (first class) or -1 (second class) by their factual class;
- `"neutral_training_masked"`: the split's texts with the target word filled in and another, non-target word
  masked (label 0);
- `"neutral_dataset"`: neutral texts with one random non-target word masked (label 0).

For the neutral groups the masked word is both the factual and the alternative word, so a `"diff"` source gradient
is zero there (and `h` is the encoder bias's image).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from datasets import Dataset

from ..gradients.objectives import TextObjective
from ..stats import pearson
from .decoder import sample_rows
from .texts import all_words, class_words, drop_texts_with_words, mask_random_word, word_pattern

TRAINING = "training"
NEUTRAL_TRAINING_MASKED = "neutral_training_masked"
NEUTRAL_DATASET = "neutral_dataset"
GROUPS = (TRAINING, NEUTRAL_TRAINING_MASKED, NEUTRAL_DATASET)
NEUTRAL_CLASS = "neutral"


def neutral_rows(
    texts: Sequence[str], words: Sequence[str], objective: TextObjective, seed: int = 0
) -> tuple[list[dict], int]:
    """
    Rows for texts with one random non-target word masked (see [`mask_random_word`]).

    Returns:
        `(rows, skipped)`: rows whose factual and alternative word is the masked word, class `"neutral"`; and the
        number of texts in which no word could be masked.
    """
    rng = random.Random(seed)
    pattern = word_pattern(words)
    rows, skipped = [], 0
    for text in texts:
        masked = mask_random_word(text, pattern, objective, rng)
        if masked is None:
            skipped += 1
            continue
        rows.append({
            "masked": masked[0], "factual": masked[1], "alternative": masked[1], "factual_class": NEUTRAL_CLASS,
            "alternative_class": NEUTRAL_CLASS,
        })
    return rows, skipped


def encoder_report(
    h: torch.Tensor,
    groups: Sequence[str],
    row_classes: Sequence[str],
    feature_classes: Sequence[str],
    boundary: float = 0.5,
) -> dict[str, Any]:
    """
    Metrics of encodings over the groups of an encoder analysis.

    Args:
        h (`torch.Tensor` of shape `(n,)`): Encodings.
        groups (`list[str]`): Group of each encoding (see the module docstring).
        row_classes (`list[str]`): Factual class of each encoding (`"neutral"` for neutral groups).
        feature_classes (`list[str]`): The two classes, +1 first.
        boundary (`float`, *optional*, defaults to 0.5): The ternary cut: class rows count as correct beyond
            ±`boundary` on their side, neutral rows within it.

    Returns:
        `dict` with `correlation` (Pearson between `h` and the ±1 labels over the two classes' training rows),
        `accuracy` (sign agreement over those rows), `ternary_accuracy` (class rows beyond ±boundary on their side
        and neutral rows within ±boundary, over all rows), `boundary`, `mean_by_feature_class`, `std_by_feature_class`
        and `n_by_feature_class` (training rows per factual class), `mean_by_class` (per label value 1.0, -1.0 and
        0.0 for all neutral rows), `mean_by_group`, `abs_mean_by_group`, `std_by_group`, `n_by_group`,
        `neutral_dataset_mean` and `neutral_training_masked_mean` (`None` when the group is empty) and `n_samples`.
    """
    h = h.detach().reshape(-1).double().cpu()
    if h.numel() != len(groups) or h.numel() != len(row_classes):
        raise ValueError(f"Got {h.numel()} encodings for {len(groups)} groups and {len(row_classes)} classes.")
    value = {feature_classes[0]: 1.0, feature_classes[1]: -1.0}
    training = [i for i, g in enumerate(groups) if g == TRAINING and row_classes[i] in value]
    if not training:
        raise ValueError(f"No training rows of the classes {list(feature_classes)} to score.")
    labels = torch.tensor([value[row_classes[i]] for i in training], dtype=torch.float64)
    h_training = h[training]
    neutral = [i for i, g in enumerate(groups) if g != TRAINING]
    correct = ((labels > 0) & (h_training > boundary)) | ((labels < 0) & (h_training < -boundary))
    neutral_correct = h[neutral].abs() <= boundary

    def stats(index: list[int]) -> tuple[float | None, float | None, float | None]:
        if not index:
            return None, None, None
        x = h[index]
        return float(x.mean()), float(x.abs().mean()), float(x.std(unbiased=False))

    classes = list(dict.fromkeys(row_classes[i] for i, g in enumerate(groups) if g == TRAINING))
    by_class = {c: [i for i, g in enumerate(groups) if g == TRAINING and row_classes[i] == c] for c in classes}
    by_group = {g: [i for i, x in enumerate(groups) if x == g] for g in GROUPS if g in groups}
    report = {
        "correlation": pearson(h_training, labels),
        "accuracy": float((torch.sign(h_training) == labels).double().mean()),
        "ternary_accuracy": float((correct.sum() + neutral_correct.sum()) / (len(training) + len(neutral))),
        "boundary": boundary,
        "mean_by_feature_class": {c: stats(i)[0] for c, i in by_class.items()},
        "std_by_feature_class": {c: stats(i)[2] for c, i in by_class.items()},
        "n_by_feature_class": {c: len(i) for c, i in by_class.items()},
        "mean_by_class": {
            label: float(h[index].mean())
            for label, index in (
                (1.0, by_class.get(feature_classes[0], [])),
                (-1.0, by_class.get(feature_classes[1], [])),
                (0.0, neutral),
            )
            if index
        },
        "mean_by_group": {g: stats(i)[0] for g, i in by_group.items()},
        "abs_mean_by_group": {g: stats(i)[1] for g, i in by_group.items()},
        "std_by_group": {g: stats(i)[2] for g, i in by_group.items()},
        "n_by_group": {g: len(by_group.get(g, [])) for g in GROUPS},
        NEUTRAL_DATASET + "_mean": stats(by_group.get(NEUTRAL_DATASET, []))[0],
        NEUTRAL_TRAINING_MASKED + "_mean": stats(by_group.get(NEUTRAL_TRAINING_MASKED, []))[0],
        "n_samples": int(h.numel()),
    }
    return report


def analyze_encoder(
    encode: Callable[[Dataset], torch.Tensor],
    rows: Dataset,
    feature_classes: Sequence[str],
    objective: TextObjective,
    neutral_texts: Sequence[str] | None = None,
    words: Mapping[str, Sequence[str]] | None = None,
    max_size: int | None = None,
    boundary: float = 0.5,
    seed: int = 0,
    return_dataset: bool = False,
) -> dict[str, Any]:
    r"""
    Encode a split's rows and the two neutral groups, and report how `h` separates the classes.

    Args:
        encode (`Callable[[Dataset], torch.Tensor]`): Encodes rows (columns `masked`, `factual`, `alternative`,
            `factual_class`, `alternative_class`) into `h` of shape `(len(rows),)`, batched — e.g.
            `GradiendTrainer.encode_rows`, which also reads the gradient cache.
        rows (`datasets.Dataset`): The split's rows.
        feature_classes (`list[str]`): The two classes, +1 first.
        objective ([`TextObjective`]): Decides which words can be masked in neutral texts (and the placeholder).
        neutral_texts (`list[str]`, *optional*): Neutral texts; texts containing a target word are dropped with a
            warning. Without them the `"neutral_dataset"` group is empty.
        words (`dict[str, list[str]]`, *optional*): Each class's words (never masked in neutral groups); from the rows
            when omitted.
        max_size (`int`, *optional*): At most this many rows per class and texts per neutral group (seeded sample).
        boundary (`float`, *optional*, defaults to 0.5): The ternary accuracy's cut.
        seed (`int`, *optional*, defaults to 0): Seed of the sampling and of the masked neutral words.
        return_dataset (`bool`, *optional*, defaults to `False`): Add the encodings as a `datasets.Dataset`
            (`encodings`: columns `masked`, `factual`, `alternative`, `factual_class`, `alternative_class`, `group`,
            `label`, `h`).

    Returns:
        The metrics of [`encoder_report`] plus `neutral_dropped` (neutral texts with target words) and
        `neutral_skipped` (texts in which no word could be masked), and `encodings` on request.
    """
    if len(rows) == 0:
        raise ValueError("The split has no rows to encode; pass a split with rows of both classes.")
    if max_size is not None and max_size < 1:
        raise ValueError(f"max_size={max_size} must be at least 1 (or None for all rows).")
    rows = sample_rows(rows, feature_classes, max_size, seed)
    words = dict(words) if words is not None else class_words(rows, feature_classes)
    targets = all_words(words)
    rng = random.Random(seed)

    filled = list(dict.fromkeys(
        m.replace(objective.placeholder, f, 1) for m, f in zip(rows["masked"], rows["factual"], strict=True)
    ))
    if max_size is not None and len(filled) > max_size:
        filled = rng.sample(filled, max_size)
    groups_rows = {NEUTRAL_TRAINING_MASKED: neutral_rows(filled, targets, objective, seed)}
    dropped = 0
    if neutral_texts is not None:
        if isinstance(neutral_texts, str):
            raise TypeError("neutral_texts must be a list of strings, not one string.")
        kept, dropped = drop_texts_with_words(list(neutral_texts), targets, "neutral data")
        if max_size is not None and len(kept) > max_size:
            kept = rng.sample(kept, max_size)
        groups_rows[NEUTRAL_DATASET] = neutral_rows(kept, targets, objective, seed)

    columns = ("masked", "factual", "alternative", "factual_class", "alternative_class")
    table = {c: list(rows[c]) for c in columns}
    table["group"] = [TRAINING] * len(rows)
    for group, (extra, _) in groups_rows.items():
        for c in columns:
            table[c] += [r[c] for r in extra]
        table["group"] += [group] * len(extra)
    dataset = Dataset.from_dict(table)
    h = encode(dataset).detach().reshape(-1).float().cpu()
    if h.numel() != len(dataset):
        raise ValueError(f"encode returned {h.numel()} encodings for {len(dataset)} rows.")
    report = encoder_report(h, table["group"], table["factual_class"], feature_classes, boundary)
    report["neutral_dropped"] = dropped
    report["neutral_skipped"] = sum(skipped for _, skipped in groups_rows.values())
    if return_dataset:
        value = {feature_classes[0]: 1.0, feature_classes[1]: -1.0}
        labels = [value.get(c, 0.0) if g == TRAINING else 0.0 for c, g in zip(table["factual_class"],
                                                                                 table["group"], strict=True)]
        report["encodings"] = dataset.add_column("label", labels).add_column("h", [float(x) for x in h])
    if any(v is not None and not math.isfinite(v) for v in report["mean_by_group"].values()):
        raise ValueError("Some encodings are not finite; the direction's encoder weights may have diverged.")
    return report
