"""Cost of one decoder-grid point against one scoring pass of the unmodified model, measured in the same run.

A grid point is: writing `θ + α·dec(h)` in place into the selected weights (from the saved originals, with the
finiteness checks) and the scoring pass (LMS on neutral texts + target probabilities on masked rows); the originals
are copied back once per grid. The scoring pass alone is the same two scorers on the unmodified model. Both are
timed alternately, so machine load affects them alike; the table shows median times and the median of the paired
ratios. `dec(h)` is computed once per feature value (three times per default grid), shown separately, and the wall
time of a whole default grid (16 α × 3 h with early stopping) on the same data closes the row.

Models: the tiny test models, medium random models (hidden 256, 4 layers), and SmolLM2-135M-Instruct when
`hf_gradiend.offline_assets.smollm2_path()` is available. Directions are random (untrained) over every non-head
weight, the most expensive selection for the edit and restore.

    python benchmarks/bench_decoder_grid.py [--threads 1] [--device cpu] [--models tiny,medium,smollm2] [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import torch

from hf_gradiend.evaluation import InPlaceUpdate, LanguageModelingScorer, TargetProbabilityScorer
from hf_gradiend.evaluation.decoder import evaluate_decoder_grid
from hf_gradiend.evaluation.lms import default_max_length
from hf_gradiend.evaluation.texts import class_words, drop_texts_with_words
from hf_gradiend.gradients import select_parameters
from hf_gradiend.gradients.objectives import build_objective
from hf_gradiend.modeling_gradiend import GradiendModel
from hf_gradiend.testing_utils import (
    tiny_bert,
    tiny_bpe_tokenizer,
    tiny_llama,
    tiny_wordpiece_tokenizer,
    toy_rows,
)

CLASSES = ["3SG", "3PL"]
TOY_NEUTRAL = [
    "Yesterday afternoon we walked to the old market.", "After the long meeting we went straight home.",
    "When the rain stopped you opened the window.", "At the station we waited for the late train.",
    "During the summer you worked in a small garden.", "Before dinner we cleaned the whole kitchen.",
    "On the weekend you visited a friend in town.", "In the morning we read the news quietly.",
]


def medium(kind: str):
    from transformers import BertConfig, BertForMaskedLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    if kind == "bert":
        tokenizer = tiny_wordpiece_tokenizer()
        config = BertConfig(vocab_size=len(tokenizer), hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                            intermediate_size=1024, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id)
        return BertForMaskedLM(config).eval(), tokenizer
    tokenizer = tiny_bpe_tokenizer(bos=True, padding_side="left")
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    return LlamaForCausalLM(config).eval(), tokenizer


def smollm2():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hf_gradiend.offline_assets import smollm2_path

    path = smollm2_path()
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval(), AutoTokenizer.from_pretrained(path)


def corpus_neutral(words: list[str], count: int) -> list[str]:
    """Neutral sentences from the bundled WordNet examples (those without a target word)."""
    path = Path(__file__).resolve().parent.parent / "src" / "hf_gradiend" / "resources" / "wordnet_examples.txt"
    lines = [line.strip() for line in path.read_text().splitlines() if len(line.split()) >= 8]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kept, _ = drop_texts_with_words(lines, words)
    return kept[:count]


def measure(name, model, tokenizer, neutral, repeats: int, device: str) -> dict:
    model.to(device)
    objective = build_objective("masked_lm" if "Bert" in type(model).__name__ else "causal_lm", tokenizer)
    rows = toy_rows()
    words = class_words(_dataset(rows), CLASSES)
    selection = select_parameters(model)
    torch.manual_seed(0)
    direction = GradiendModel.for_base_model(model, selection, feature_classes=CLASSES, objective=objective.name)
    direction.to(device)
    lms = LanguageModelingScorer(tokenizer, neutral, objective.name, excluded_words=[w for v in words.values()
                                 for w in v], batch_size=16, max_length=default_max_length(model, tokenizer))
    probabilities = TargetProbabilityScorer(objective, [r["masked"] for r in rows], words,
                                            row_classes=[r["factual_class"] for r in rows], batch_size=16)

    def score():
        lms(model)
        probabilities(model)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    score()  # warm-up (device transfer of the batches, allocator)
    passes, points, decodes = [], [], []
    with InPlaceUpdate(model, direction) as update:
        for h in (1.0, 0.0, -1.0):  # dec(h) is computed once per h: three times per default grid
            started = time.perf_counter()
            update.apply(h, 1e-3)
            decodes.append(time.perf_counter() - started)
        for i in range(repeats):
            update.restore()
            started = time.perf_counter()
            score()
            passes.append(time.perf_counter() - started)
            started = time.perf_counter()
            update.apply(-1.0, (1e-3, 2e-3)[i % 2])
            score()
            points.append(time.perf_counter() - started)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = evaluate_decoder_grid(model, tokenizer, direction, rows, neutral, objective=objective,
                                        show_progress=False)
    grid_seconds = time.perf_counter() - started
    evaluated = sum(p["status"] == "evaluated" for p in results["grid"])
    model.to("cpu")
    return {
        "model": name,
        "selected": selection.num_coordinates,
        "texts": f"{len(rows)} rows + {len(neutral)} neutral",
        "pass": statistics.median(passes),
        "point": statistics.median(points),
        "decode": statistics.median(decodes),
        "ratio": statistics.median(p / q for p, q in zip(points, passes, strict=True)),
        "grid": grid_seconds,
        "evaluated": f"{evaluated}/{len(results['grid'])}",
    }


def _dataset(rows):
    from datasets import Dataset

    return Dataset.from_list(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--models", default="tiny,medium,smollm2", help="comma list of tiny, medium, smollm2")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = set(args.models.split(","))
    cases = []
    if "tiny" in models:
        tokenizer = tiny_wordpiece_tokenizer()
        cases.append(("tiny BERT (h16, 2L)", tiny_bert(tokenizer), tokenizer, TOY_NEUTRAL, args.repeats * 3))
        tokenizer = tiny_bpe_tokenizer(bos=True, padding_side="left")
        cases.append(("tiny Llama (h16, 2L)", tiny_llama(tokenizer), tokenizer, TOY_NEUTRAL, args.repeats * 3))
    if "medium" in models:
        for kind in ("bert", "llama"):
            model, tokenizer = medium(kind)
            cases.append((f"medium {kind} (h256, 4L)", model, tokenizer, TOY_NEUTRAL * 4, args.repeats))
    if "smollm2" in models:
        try:
            model, tokenizer = smollm2()
        except Exception as error:  # missing offline asset: report and go on
            print(f"SmolLM2 skipped: {error}")
        else:
            neutral = corpus_neutral(["he", "she", "it", "they"], 64)
            cases.append(("SmolLM2-135M-Instruct", model, tokenizer, neutral, max(3, args.repeats // 3)))
    header = (f"{'model':<24} {'selected':>11} {'texts':>24} {'scoring pass':>13} {'grid point':>11} {'ratio':>6} "
              f"{'dec(h) once':>11} {'full grid':>10} {'points':>7}")
    print(f"device={args.device} threads={args.threads} (medians; ratio = grid point / scoring pass, same run)")
    print(header)
    print("-" * len(header))
    for name, model, tokenizer, neutral, repeats in cases:
        row = measure(name, model, tokenizer, neutral, repeats, args.device)
        print(f"{row['model']:<24} {row['selected']:>11,} {row['texts']:>24} {row['pass'] * 1e3:>11.1f}ms "
              f"{row['point'] * 1e3:>9.1f}ms {row['ratio']:>6.3f} {row['decode'] * 1e3:>9.1f}ms {row['grid']:>9.2f}s "
              f"{row['evaluated']:>7}", flush=True)


if __name__ == "__main__":
    main()
