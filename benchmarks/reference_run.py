"""
The reference half of `benchmarks/compare_reference.py`: runs `gradiend==0.2.3` through the workflow of its README
(data → training with pruning → encoder evaluation → decoder grid → rewrite) on the shared rows, and writes one
JSON with the wall time, peak RSS and quality numbers of every phase.

It runs inside the reference virtual environment (`benchmarks/_reference.py:reference_python()`), where
hf_gradiend is not installed, so it uses only the standard library, pandas, torch and `gradiend`. Start it through
`compare_reference.py --only reference`, which prepares the shared rows and the offline model first.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import sys
import time
from pathlib import Path

PHASES = ("data", "training", "encoder", "decoder", "rewrite")
FEATURE_CLASSES = ("3SG", "3PL")
TARGET_WORDS = {"3SG": ["he", "she", "it"], "3PL": ["they"]}


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def _cpu_seconds() -> float:
    """User + system CPU time of this process (less sensitive than wall time to other jobs on a shared machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) to the current RSS, so each phase reports its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _jsonable(value):
    """Plain JSON values from the reference's result dicts (numpy scalars, tuple keys, DataFrames dropped)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if not _is_frame(v)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def same_rows_quality(encodings: list[float], classes: list[str], positive: str) -> dict:
    """
    Pearson r between `h` and the ±1 labels (`positive` → +1) on class rows only, oriented so r ≥ 0 (either library
    may encode either class as +1), with the mean `h` per class in that orientation. Both halves call it on the same
    validation rows of the trained direction, so the two numbers measure the same thing.
    """
    labels = [1.0 if c == positive else -1.0 for c in classes]
    n = len(labels)
    mean_h, mean_y = sum(encodings) / n, sum(labels) / n
    cov = sum((h - mean_h) * (y - mean_y) for h, y in zip(encodings, labels, strict=True))
    var_h = sum((h - mean_h) ** 2 for h in encodings)
    var_y = sum((y - mean_y) ** 2 for y in labels)
    r = cov / math.sqrt(var_h * var_y) if var_h > 0 and var_y > 0 else float("nan")
    sign = -1.0 if r < 0 else 1.0
    means = {}
    for c in dict.fromkeys(classes):
        values = [sign * h for h, k in zip(encodings, classes, strict=True) if k == c]
        means[c] = sum(values) / len(values)
    return {"correlation": abs(r), "n_by_class": {c: classes.count(c) for c in means}, "mean_by_class": means}


def _is_frame(value) -> bool:
    return type(value).__name__ in {"DataFrame", "Series"}


class Recorder:
    """Times phases, records each one's peak RSS, and rewrites the JSON after every phase (a crash keeps the rest)."""

    def __init__(self, out: Path, header: dict):
        self.out = out
        self.result = {**header, "phases": {}}
        self.peak_reset_works = _reset_peak_rss()
        self.result["peak_rss_per_phase"] = self.peak_reset_works
        self.start, self.cpu_start = time.perf_counter(), _cpu_seconds()

    def phase(self, name: str):
        return _Phase(self, name)

    def write(self) -> None:
        self.result["total_wall_s"] = round(time.perf_counter() - self.start, 2)
        self.result["total_cpu_s"] = round(_cpu_seconds() - self.cpu_start, 2)
        # The per-phase resets also reset the process's high-water mark, so the process peak is the largest phase peak.
        peaks = [phase["peak_rss_mib"] for phase in self.result["phases"].values()]
        self.result["process_peak_rss_mib"] = max([round(_status_kib("VmHWM") / 1024, 1), *peaks])
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(_jsonable(self.result), indent=2) + "\n")
        tmp.replace(self.out)


class _Phase:
    def __init__(self, recorder: Recorder, name: str):
        self.recorder, self.name, self.metrics = recorder, name, {}
        self.label = recorder.result.get("library", "reference")

    def __enter__(self):
        print(f"[{self.label}] phase {self.name} ...", file=sys.stderr, flush=True)
        _reset_peak_rss()
        self.load_before = os.getloadavg()[0]
        self.cpu0 = _cpu_seconds()
        self.t0 = time.perf_counter()
        return self.metrics

    def __exit__(self, exc_type, exc, tb):
        wall = time.perf_counter() - self.t0
        entry = {
            "wall_s": round(wall, 2),
            "cpu_s": round(_cpu_seconds() - self.cpu0, 2),
            "peak_rss_mib": round(_status_kib("VmHWM") / 1024, 1),
            "load_avg_1min": [round(self.load_before, 2), round(os.getloadavg()[0], 2)],
            **self.metrics,
        }
        if exc is not None:
            entry["error"] = f"{exc_type.__name__}: {exc}"
        self.recorder.result["phases"][self.name] = entry
        self.recorder.write()
        print(f"[{self.label}] phase {self.name}: {wall:.1f} s, peak RSS {entry['peak_rss_mib']} MiB", file=sys.stderr)
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="local directory of the base model (never a Hub id)")
    parser.add_argument("--rows", required=True, help="shared rows CSV (text, masked, factual, alternative, ...)")
    parser.add_argument("--neutral", required=True, help="shared neutral CSV (column text)")
    parser.add_argument("--sentences", required=True, help="the raw sentences, one a line (data phase)")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--workdir", required=True, help="experiment directory of the reference")
    parser.add_argument("--settings", required=True, help="JSON with the benchmark settings")
    args = parser.parse_args(argv)
    settings = json.loads(args.settings)
    if os.environ.get("HF_HUB_OFFLINE") != "1":
        raise SystemExit("Set HF_HUB_OFFLINE=1: the reference must not touch the Hub.")

    import gradiend
    import pandas as pd
    import torch
    from gradiend import (
        PostPruneConfig,
        PrePruneConfig,
        TextFilterConfig,
        TextPredictionDataCreator,
        TextPredictionTrainer,
        TrainingArguments,
    )

    header = {
        "library": "gradiend",
        "version": getattr(gradiend, "__version__", "0.2.3"),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "settings": settings,
    }
    recorder = Recorder(Path(args.out), header)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    with recorder.phase("data") as metrics:
        # The reference's own data creation from the raw sentences, timed for the data phase; training below uses
        # the shared rows so that both libraries see the same rows and splits.
        sentences = Path(args.sentences).read_text().splitlines()
        creator = TextPredictionDataCreator(
            base_data=sentences,
            feature_targets=[TextFilterConfig(targets=TARGET_WORDS[c], id=c) for c in FEATURE_CLASSES],
            min_left_context_words=settings["min_left_context_words"],
            seed=settings["seed"],
        )
        created = creator.generate_training_data(max_size_per_class=settings["max_rows_per_class"], format="unified")
        neutral_created = creator.generate_neutral_data(max_size=settings["neutral_rows"])
        metrics["created_rows"] = int(len(created))
        metrics["created_rows_per_class"] = {str(k): int(v) for k, v in created["label_class"].value_counts().items()}
        metrics["created_neutral_rows"] = int(len(neutral_created))
        shared = pd.read_csv(args.rows)
        data = shared.drop(columns=["label"]).rename(columns={"factual": "label", "factual_class": "label_class"})[
            ["masked", "split", "label_class", "label", "alternative", "alternative_class"]
        ]
        neutral = pd.read_csv(args.neutral)[["text"]]
        metrics["shared_rows"] = int(len(data))
        metrics["shared_neutral_rows"] = int(len(neutral))

    with recorder.phase("training") as metrics:
        training_args = TrainingArguments(
            experiment_dir=str(workdir),
            train_batch_size=settings["batch_size"],
            max_steps=settings["steps"],
            learning_rate=settings["learning_rate"],
            seed=settings["seed"],
            max_seeds=1,
            encoder_eval_train_max_size=settings["train_eval_rows_per_class"],
            pre_prune_config=PrePruneConfig(
                n_samples=settings["pre_prune_samples"], topk=settings["pre_prune_topk"], seed=settings["seed"]
            ),
            post_prune_config=PostPruneConfig(topk=settings["post_prune_topk"]),
            use_cache=False,
        )
        trainer = TextPredictionTrainer(
            model=args.model,
            data=data,
            target_classes=list(FEATURE_CLASSES),
            args=training_args,
            eval_neutral_data=neutral,
            random_state=settings["seed"],
            decoder_eval_lms_max_samples=settings["decoder_rows"],
        )
        trainer.train()
        model = trainer.get_model()
        metrics["input_dim_after_pruning"] = int(model.gradiend.input_dim)
        stats = trainer.get_training_stats() or {}
        training_stats = stats.get("training_stats", {})
        metrics["best_validation_correlation"] = training_stats.get("correlation")
        metrics["global_step"] = training_stats.get("global_step")
        metrics["reference_time_stats"] = stats.get("time")
        losses = stats.get("losses") or []
        metrics["first_loss"], metrics["last_loss"] = (losses[0], losses[-1]) if losses else (None, None)

    with recorder.phase("encoder") as metrics:
        encoder = trainer.evaluate_encoder(
            split="test",
            max_size=settings["encoder_rows_per_class"],
            neutral_data_df=neutral.head(settings["encoder_neutral_rows"]),
        )
        metrics["correlation"] = encoder.get("correlation")
        for key in ("n_samples", "sample_counts", "mean_by_class", "mean_by_type", "abs_mean_by_type"):
            metrics[key] = encoder.get(key)
        metrics["neutral_mean_by_type"] = encoder.get("neutral_mean_by_type")

    with recorder.phase("decoder") as metrics:
        decoder = trainer.evaluate_decoder(
            target_class=settings["decoder_target_class"],
            max_size_training_like=settings["decoder_rows"],
            max_size_neutral=settings["decoder_rows"],
        )
        chosen = decoder.get(settings["decoder_target_class"], {})
        metrics["chosen"] = chosen
        grid = decoder.get("grid", {})
        metrics["grid_points"] = len([k for k in grid if k != "base"])
        metrics["base"] = grid.get("base")
        chosen_key = next(
            (
                k
                for k in grid
                if isinstance(k, tuple) and k == (chosen.get("feature_factor"), chosen.get("learning_rate"))
            ),
            None,
        )
        metrics["chosen_point"] = grid.get(chosen_key) if chosen_key is not None else None

    with recorder.phase("rewrite") as metrics:
        rewritten_dir = workdir / f"rewritten-{settings['decoder_target_class']}"
        path = trainer.rewrite_base_model(
            decoder_results=decoder, target_class=settings["decoder_target_class"], output_dir=str(rewritten_dir)
        )
        metrics["output_dir"] = str(path)
        metrics["feature_factor"] = chosen.get("feature_factor")
        metrics["learning_rate"] = chosen.get("learning_rate")

    # Untimed, after the phases: the trained direction's r on every validation row, measured the same way as ours.
    model = trainer.get_model()
    rows = data[data["split"] == "validation"]
    encodings = [  # encode() runs the base model's backward pass, so no torch.no_grad() here
        model.encode(masked, label=alternative, return_float=True)
        for masked, alternative in zip(rows["masked"], rows["alternative"], strict=True)
    ]
    recorder.result["validation_same_rows"] = same_rows_quality(
        encodings, list(rows["label_class"]), FEATURE_CLASSES[0]
    )
    recorder.result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    recorder.write()
    print(f"[reference] done: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
