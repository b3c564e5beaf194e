"""TrainerSuite: one direction per class pair and per merged feature over one base model, with one gradient cache."""

from __future__ import annotations

import copy
import gc
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .planning import SuiteRun, check_classes, plan_runs
from .records import (
    RESULT_INDEPENDENT_ARGS,
    RUN_FILE,
    SUITE_FILE,
    base_identity,
    data_fingerprint,
    read_json,
    write_json,
)

logger = logging.getLogger(__name__)


class TrainerSuite:
    r"""
    Train one direction per pair of `k` classes, plus one per merged feature (e.g. grammatical number: singular vs.
    plural), on one base model and one dataset.

    Every run is a [`TextPredictionTrainer`] with the same training arguments, saving to `<output_dir>/<run name>`.
    The base model is loaded once and shared; all runs write one gradient cache (`<output_dir>/gradient_cache`; it
    is keyed by base weights, parameter selection, objective and coordinates, so the runs' texts share it. With
    pre-pruning each run keeps its own coordinates and thus gets its own sub-folder). Training again skips every run
    whose folder holds a saved direction trained from the same base model, data, classes and training arguments
    (recorded in `suite_run.json`); anything else is (re)trained.

    Args:
        model (`str` or `PreTrainedModel`): The base model (Hub id, local path or instance), loaded once when a run
            needs training.
        data: Rows of all classes, in any form [`TextPredictionTrainer`] accepts. A dict `{class: rows}` of per-class
            rows (`masked`, `factual`) is the natural form: each run then reads only the rows of its own classes, so
            a pair's alternatives are the other class's words (a merged feature's: the other merged class's words).
            A `DatasetDict` or a file must hold rows between the classes of every run.
        classes (`list[str]`, *optional*): The classes to pair, in order (the earlier class of a pair is +1). All
            classes of the data by default.
        pairs (`list[tuple[str, str]]`, *optional*): Train exactly these pairs (+1 class first) instead of every pair
            of `classes`; `[]` trains only the merged features.
        merged_features (`dict[str, dict[str, list[str]]]`, *optional*): Feature name → `class_merge_map` with two
            merged classes, e.g. `{"number": {"singular": ["1SG", "3SG"], "plural": ["1PL", "3PL"]}}`.
        args ([`GradiendTrainingArguments`], *optional*): Arguments of every run; `output_dir` is the suite's folder
            unless `output_dir` is given.
        output_dir (`str`, *optional*): The suite's folder.
        eval_neutral_data (`Dataset` or `list[str]`, *optional*): Feature-neutral texts for every run's evaluation.
        tokenizer (`PreTrainedTokenizerBase`, *optional*): The base model's tokenizer.
        gradient_cache_dir (`str`, *optional*): The shared gradient cache; `<output_dir>/gradient_cache` by default
            (`args.gradient_cache_dir` when set).
        trainer_class (`type`, *optional*): A [`TextPredictionTrainer`] subclass to train each run with.
        trainer_kwargs (`dict`, *optional*): More keyword arguments for each trainer (e.g. `callbacks`).

    Example:

    ```python
    >>> from hf_gradiend import GradiendTrainingArguments, TrainerSuite
    >>> suite = TrainerSuite(
    ...     "HuggingFaceTB/SmolLM2-135M", data=pronoun_rows,  # {"1SG": rows, "1PL": rows, "2SGPL": rows, ...}
    ...     classes=["1SG", "1PL", "2SGPL", "3SG", "3PL"],
    ...     merged_features={"number": {"singular": ["1SG", "3SG"], "plural": ["1PL", "3PL"]},
    ...                      "person": {"first": ["1SG", "1PL"], "third": ["3SG", "3PL"]}},
    ...     args=GradiendTrainingArguments(output_dir="runs/pronouns", max_steps=200),
    ... )
    >>> suite.train()  # 10 pairs + 2 merged features; a second call skips what is done
    >>> figure, path = suite.compare(topk=1000)  # runs/pronouns/topk_overlap.png
    ```
    """

    def __init__(
        self,
        model: Any,
        data: Any,
        classes: Sequence[str] | None = None,
        pairs: Sequence[Sequence[str]] | None = None,
        merged_features: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
        args: Any = None,
        output_dir: str | os.PathLike | None = None,
        eval_neutral_data: Any = None,
        tokenizer: Any = None,
        gradient_cache_dir: str | os.PathLike | None = None,
        trainer_class: type | None = None,
        trainer_kwargs: Mapping[str, Any] | None = None,
    ):
        from ..rows import as_dataset, is_per_class
        from ..training import GradiendTrainingArguments, TextPredictionTrainer
        from ..training.text_prediction import load_rows

        if args is None:
            if output_dir is None:
                raise ValueError(
                    "Pass output_dir= (the suite's folder) or args=GradiendTrainingArguments(output_dir=...)."
                )
            args = GradiendTrainingArguments(output_dir=str(output_dir))
        if not isinstance(args, GradiendTrainingArguments):
            raise TypeError(f"args must be GradiendTrainingArguments, not {type(args).__name__}.")
        trainer_class = trainer_class or TextPredictionTrainer
        if not (isinstance(trainer_class, type) and issubclass(trainer_class, TextPredictionTrainer)):
            raise TypeError(f"trainer_class={trainer_class!r} must be TextPredictionTrainer or a subclass of it.")
        self.model = model
        self.tokenizer = tokenizer
        self.args = args
        self.output_dir = Path(output_dir if output_dir is not None else args.output_dir)
        self.eval_neutral_data = eval_neutral_data
        self.trainer_class = trainer_class
        self.trainer_kwargs = dict(trainer_kwargs or {})
        if is_per_class(data):  # {class: rows}: each run pairs only the rows of its own classes
            self.per_class: dict[str, Any] | None = {
                str(c): as_dataset(rows, f"Rows of class {c!r}", required=()) for c, rows in data.items()
            }
            self.splits = None
            present = list(self.per_class)
        else:
            self.per_class = None
            self.splits = load_rows(data, seed=args.seed)
            present = list(dict.fromkeys(self.splits["train"]["factual_class"]))
        self.classes = check_classes(classes, present)
        self.runs = plan_runs(self.classes, pairs, merged_features, present, self.output_dir)
        cache = gradient_cache_dir or args.gradient_cache_dir or self.output_dir / "gradient_cache"
        self.gradient_cache_dir = Path(cache)
        self._spec: dict[str, Any] | None = None

    # ------------------------------------------------------------------------------------------------ the runs
    def run(self, name_or_label: str) -> SuiteRun:
        """The run with this name (folder) or label."""
        for run in self.runs:
            if name_or_label in (run.name, run.label):
                return run
        raise KeyError(f"No run {name_or_label!r}; the runs are {[r.name for r in self.runs]}.")

    def run_data(self, run: SuiteRun) -> Any:
        """The data a run trains on: the per-class rows of its own (raw) classes, or the suite's rows."""
        if self.per_class is None:
            return self.splits
        return {c: self.per_class[c] for c in run.raw_classes}

    def run_spec(self, run: SuiteRun) -> dict[str, Any]:
        """What a run is trained from: base model, data, classes (and merge) and the result-relevant arguments."""
        if self._spec is None:
            arguments = json.loads(json.dumps(self.args.to_dict(), default=str))
            self._spec = {
                "base_model": base_identity(self.model),
                "args": {k: v for k, v in sorted(arguments.items()) if k not in RESULT_INDEPENDENT_ARGS},
            }
        data = self.run_data(run)
        return {
            **self._spec, "data": data_fingerprint(data), "target_classes": list(run.target_classes),
            "class_merge_map": run.class_merge_map,
        }

    def is_finished(self, run: SuiteRun | str) -> bool:
        """
        Whether the run's folder holds a saved direction of its classes, trained from the same base model, data and
        training arguments (as recorded in its `suite_run.json`).
        """
        run = self.run(run) if isinstance(run, str) else run
        record = read_json(run.output_dir / RUN_FILE)
        config = read_json(run.output_dir / "config.json")
        if record is None or config is None or not (run.output_dir / "model.safetensors").is_file():
            return False
        return (
            config.get("model_type") == "gradiend"
            and config.get("feature_classes") == list(run.target_classes)
            and config.get("source") == self.args.source
            and config.get("target") == self.args.target
            and record.get("spec") == self.run_spec(run)
        )

    # --------------------------------------------------------------------------------------------------- train
    def train(self, force: bool = False) -> dict[str, str]:
        """
        Train every run that is not finished (all with `force=True`), one after another, and save each direction.

        Returns:
            `dict[str, str]`: run name → `"trained"` or `"skipped"`.
        """
        todo = [run for run in self.runs if force or not self.is_finished(run)]
        status = {run.name: "trained" if run in todo else "skipped" for run in self.runs}
        for run in self.runs:
            if status[run.name] == "skipped":
                logger.info("Suite run %s is finished (%s); skipping it.", run.name, run.output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._write_suite_file()
        if not todo:
            return status
        base, tokenizer = self._load_base()
        for run in tqdm(todo, desc="Suite runs", disable=len(todo) < 2):
            self._train_run(run, base, tokenizer)
        return status

    def _train_run(self, run: SuiteRun, base: Any, tokenizer: Any) -> None:
        (run.output_dir / RUN_FILE).unlink(missing_ok=True)  # a crash must not leave an old record beside a new model
        args = copy.deepcopy(self.args)
        args.output_dir = str(run.output_dir)
        if args.gradient_cache:
            shared = self.gradient_cache_dir
            args.gradient_cache_dir = str(shared / run.name if args.pre_prune is not None else shared)
        trainer = self.trainer_class(
            base, data=self.run_data(run), eval_neutral_data=self.eval_neutral_data, target_classes=run.target_classes,
            class_merge_map=run.class_merge_map, args=args, tokenizer=tokenizer, **self.trainer_kwargs,
        )
        trainer.train()
        selected = next((r for r in trainer.seed_results if r.selected), None)
        if selected is not None and not selected.converged:
            logger.warning("Suite run %s did not converge (validation %s).", run.name, selected.metrics)
        if trainer.is_world_process_zero():
            record = {
                "spec": self.run_spec(run), "run": run.describe(),
                "converged": None if selected is None else selected.converged,
                "metrics": {} if selected is None else selected.metrics,
            }
            write_json(run.output_dir / RUN_FILE, record)
        del trainer
        gc.collect()

    def _load_base(self) -> tuple[Any, Any]:
        from ..base_models import load_base_model

        base, tokenizer, _ = load_base_model(self.model, self.tokenizer, self.args.objective)
        return base, tokenizer

    def _write_suite_file(self) -> None:
        write_json(self.output_dir / SUITE_FILE, {
            "classes": self.classes, "base_model": base_identity(self.model),
            "runs": [run.describe() for run in self.runs],
        })

    # ------------------------------------------------------------------------------------------------- results
    def results(self) -> dict[str, dict[str, Any]]:
        """Run name → `{"label", "finished", "converged", "metrics"}` (validation metrics of the saved direction)."""
        out = {}
        for run in self.runs:
            record = read_json(run.output_dir / RUN_FILE) or {}
            out[run.name] = {
                "label": run.label, "finished": self.is_finished(run), "converged": record.get("converged"),
                "metrics": record.get("metrics", {}),
            }
        return out

    def directions(self) -> dict[str, str]:
        """
        Label → folder of every run's saved direction, for the comparison functions.

        Raises:
            `ValueError`: A run is not finished yet (train the suite first).
        """
        missing = [run.name for run in self.runs if not self.is_finished(run)]
        if missing:
            raise ValueError(f"The suite runs {missing} are not trained yet (or are out of date); call suite.train().")
        return {run.label: str(run.output_dir) for run in self.runs}

    def topk_overlap(self, k: int | float = 1000, value: str = "intersection_frac", part: str = "decoder-weight"):
        """Pairwise top-k overlap of the suite's directions ([`~compare.topk_overlap`]) as a `LabelledMatrix`."""
        from ..compare import topk_overlap

        return topk_overlap(self.directions(), k, value=value, part=part)

    def compare(
        self,
        topk: int | float = 1000,
        part: str = "decoder-weight",
        output_path: str | os.PathLike | None = None,
        **plot_kwargs,
    ):
        """
        Draw the top-k overlap of the suite's directions: a Venn diagram for up to six runs, a heatmap above (see
        [`plot_topk_overlap`]; `kind=`, `value=`, `groups=`, `pretty_labels=`, ... pass through). Needs the `plot`
        extra.

        Args:
            topk (`int` or `float`, *optional*, defaults to 1000): Top-k size (count or fraction).
            part (`str`, *optional*, defaults to `"decoder-weight"`): Importance used to rank coordinates.
            output_path (`str`, *optional*): Where to write the figure; `<output_dir>/topk_overlap.png` by default.

        Returns:
            `(figure, path)`.
        """
        from ..plotting.overlap import plot_topk_overlap

        path = output_path if output_path is not None else self.output_dir / "topk_overlap.png"
        return plot_topk_overlap(self.directions(), topk, part, output_path=path, **plot_kwargs)

