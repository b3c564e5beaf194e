"""Data-creation speed and memory: hf_gradiend's TextPredictionDataCreator against the reference gradiend 0.2.3.

Prints one table. Every measurement runs in its own process (so peak RSS is that run's own); times cover building the
creator from the list of texts and generating the data (imports excluded). CPU time is given beside wall-clock time
because the machines this runs on are often shared:

- training data (3SG = he/she/it vs 3PL = they, 2,500 rows per class, no left-context minimum) and neutral data
  (1,000 texts) from 1M sentences (the bundled WordNet sentences repeated), for ours and for the reference in its
  own virtual environment (`benchmarks/_reference.py`);
- ours on the same sentences streamed as an `IterableDataset` (`to_iterable_dataset().repeat(...).take(n)`) of 1M
  and of 10M sentences: peak RSS should not grow with the corpus.

Usage: `python benchmarks/bench_data_creation.py [--sentences 1000000] [--streamed 10000000] [--skip-reference]`
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

MAX_PER_CLASS = 2500
NEUTRAL_SIZE = 1000

OURS = r"""
import json, resource, sys, time
from hf_gradiend.data import TextFilterConfig, TextPredictionDataCreator, bundled_corpus_path, load_wordnet

mode, n, num_proc, per_class, neutral_size = sys.argv[1], *map(int, sys.argv[2:6])
num_proc = num_proc or None
lines = [line for line in bundled_corpus_path().read_text(encoding="utf-8").splitlines() if line.strip()]

if mode == "memory":
    data = [lines[i % len(lines)] for i in range(n)]  # a list of strings, as the reference gets it
else:
    wordnet = load_wordnet()  # 34,761 sentences in memory, streamed over and over: never n sentences at once
    data = wordnet.to_iterable_dataset().repeat(n // len(wordnet) + 1).take(n)
targets = [TextFilterConfig(["he", "she", "it"], id="3SG"), TextFilterConfig(["they"], id="3PL")]
start, cpu = time.perf_counter(), time.process_time()
creator = TextPredictionDataCreator(data, feature_targets=targets, num_proc=num_proc)
training = creator.generate_training_data(max_size_per_class=per_class)
middle, middle_cpu = time.perf_counter(), time.process_time()
neutral = creator.generate_neutral_data(max_size=neutral_size) if mode == "memory" else []
end = time.perf_counter()
classes = [c for split in training.values() for c in split["factual_class"]]
print(json.dumps({"training_s": middle - start, "training_cpu_s": middle_cpu - cpu,
                  "neutral_s": end - middle if mode == "memory" else None,
                  "rows_3sg": classes.count("3SG"), "rows_3pl": classes.count("3PL"), "neutral": len(neutral),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

REFERENCE = r"""
import json, logging, resource, sys, time
logging.disable(logging.CRITICAL)
from gradiend import TextFilterConfig, TextPredictionDataCreator

n, corpus, per_class, neutral_size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lines = [l for l in open(corpus, encoding="utf-8").read().splitlines() if l.strip()]
texts = [lines[i % len(lines)] for i in range(n)]
targets = [TextFilterConfig(targets=["he", "she", "it"], id="3SG"), TextFilterConfig(targets=["they"], id="3PL")]
start, cpu = time.perf_counter(), time.process_time()
creator = TextPredictionDataCreator(base_data=texts, feature_targets=targets, min_left_context_words=0, seed=42)
training = creator.generate_training_data(max_size_per_class=per_class)
middle, middle_cpu = time.perf_counter(), time.process_time()
neutral = creator.generate_neutral_data(max_size=neutral_size)
end = time.perf_counter()
print(json.dumps({"training_s": middle - start, "training_cpu_s": middle_cpu - cpu, "neutral_s": end - middle,
                  "rows_3sg": len(training["3SG"]), "rows_3pl": len(training["3PL"]), "neutral": len(neutral),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(python: str, script: str, *args: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(script)
    completed = subprocess.run(
        [python, handle.name, *args, str(MAX_PER_CLASS), str(NEUTRAL_SIZE)], capture_output=True, text=True,
        cwd=tempfile.gettempdir(),
        env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1",
             "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    )
    Path(handle.name).unlink()
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark worker failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1_000_000)
    parser.add_argument("--streamed", type=int, default=10_000_000)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    from hf_gradiend.data import bundled_corpus_path

    results = []
    n = args.sentences
    print(f"Corpus: WordNet example sentences repeated to {n:,}; 3SG vs 3PL, {MAX_PER_CLASS} rows/class.",
          file=sys.stderr)
    for num_proc in (0, 2):
        results.append((f"hf_gradiend (list[str], num_proc={num_proc or None})", n,
                        run(sys.executable, OURS, "memory", str(n), str(num_proc))))
    if not args.skip_reference:
        from _reference import reference_python

        python = str(reference_python())
        result = run(python, REFERENCE, str(n), str(bundled_corpus_path()))
        results.append(("gradiend 0.2.3 (list[str])", n, result))
    for size in (n, args.streamed):
        result = run(sys.executable, OURS, "stream", str(size), "0")
        results.append(("hf_gradiend (IterableDataset, streamed)", size, result))

    header = (f"| {'implementation':<40} | {'sentences':>10} | {'training s':>10} | {'CPU s':>6} | "
              f"{'sentences/s':>11} | {'rows 3SG/3PL':>12} | {'neutral s':>9} | {'peak RSS MB':>11} |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for name, size, r in results:
        neutral = f"{r['neutral_s']:.2f}" if r["neutral_s"] is not None else "-"
        print(f"| {name:<40} | {size:>10,} | {r['training_s']:>10.2f} | {r['training_cpu_s']:>6.2f} | "
              f"{size / r['training_s']:>11,.0f} | "
              f"{str(r['rows_3sg']) + '/' + str(r['rows_3pl']):>12} | {neutral:>9} | {r['peak_rss_mb']:>11,.0f} |")
    ours = results[0][2]
    if not args.skip_reference:
        reference = results[2][2]
        wall = reference["training_s"] / ours["training_s"]
        cpu = reference["training_cpu_s"] / ours["training_cpu_s"]
        print(f"\nTraining data speed-up over the reference (one process): {wall:.1f}x wall-clock, {cpu:.1f}x CPU "
              "time. (The reference's neutral data stops at its first max_size texts; ours samples the whole corpus.)")
    small, large = results[-2][2]["peak_rss_mb"], results[-1][2]["peak_rss_mb"]
    print(f"Streamed peak RSS: {small:,.0f} MB at {results[-2][1]:,} sentences, {large:,.0f} MB at "
          f"{results[-1][1]:,} ({large / small:.2f}x for {results[-1][1] / results[-2][1]:.0f}x the sentences).")


if __name__ == "__main__":
    main()
