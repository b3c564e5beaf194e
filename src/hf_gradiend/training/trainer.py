"""GradiendTrainer: the transformers Trainer, training a GradiendModel on gradients of a frozen base model."""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset, DatasetDict
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer

from ..base_models import load_base_model
from ..gradients.cache import GradientCache, kinds_to_store
from ..gradients.engine import GradientEngine
from ..gradients.selection import select_parameters
from ..gradients.store import GradientStore
from ..modeling_gradiend import GradiendModel
from ..rows import RowsLike, as_dataset, as_neutral_dataset, labels_for
from ..stats import encoder_metrics
from .arguments import GradiendTrainingArguments
from .caching import cache_directory, cache_fingerprint, expected_cache_gb
from .evaluation_workflow import EvaluationMixin
from .groups import (
    BalancedTransitionSampler,
    GradientGroups,
    collate_groups,
    resolve_feature_classes,
    split_training_data,
    training_groups,
)
from .memory import check_memory
from .pruning import PostPruneConfig, pre_prune_coordinates
from .rewriting import RewriteMixin
from .seeds import SeedResult, converged, write_seed_report

logger = logging.getLogger(__name__)


class GradiendTrainer(EvaluationMixin, RewriteMixin, Trainer):
    r"""
    Trains a [`GradiendModel`] with the transformers training loop.

    The trained model is the direction; the base model is frozen, placed on the device through `self.accelerator`
    and never enters the optimizer. Each step asks the gradient store for the source and target gradients of its
    groups of texts (computed once, then read from the on-disk cache) and returns the MSE between the direction's
    reconstruction and the target.

    After training, the direction is oriented so the first feature class encodes as +1, the best state by validation
    correlation is kept (across evaluation steps and seeds), post-pruning is applied, and the result is saved to
    `output_dir` (with `seed_report.json` when several seeds ran).

    Args:
        base_model (`str` or `PreTrainedModel`): Masked or causal LM (Hub id, local path or instance).
        args ([`GradiendTrainingArguments`], *optional*): Training arguments.
        train_dataset (`datasets.Dataset`, list of dicts or DataFrame, *optional*):
            Rows with columns `masked`, `factual`, `alternative`, `factual_class`, `alternative_class`. A
            `DatasetDict` may be passed instead, whose `train` and `validation` splits are used.
        eval_dataset (same as `train_dataset`, *optional*): Validation rows, scored at `eval_steps`.
        processing_class (`PreTrainedTokenizerBase`, *optional*): The base model's tokenizer.
        model ([`GradiendModel`], *optional*): A direction to continue training; a new one is created otherwise.
        feature_classes (`list[str]`, *optional*): The two classes, +1 first; inferred from the rows when omitted.
        eval_neutral_data (`datasets.Dataset` with a `text` column, or `list[str]`, *optional*):
            Feature-neutral texts for evaluation (encoder neutral means, language-modelling score).
        callbacks (`list[TrainerCallback]`, *optional*): Trainer callbacks.

    Example:

    ```python
    >>> from hf_gradiend import GradiendTrainer, GradiendTrainingArguments
    >>> args = GradiendTrainingArguments(output_dir="out", max_steps=100, eval_strategy="steps", eval_steps=50)
    >>> trainer = GradiendTrainer("HuggingFaceTB/SmolLM2-135M", args=args, train_dataset=data)
    >>> trainer.train()  # leaves the best direction in "out"; AutoModel.from_pretrained("out") reloads it
    ```
    """

    def __init__(
        self,
        base_model: str | PreTrainedModel,
        args: GradiendTrainingArguments | None = None,
        train_dataset: RowsLike | DatasetDict | None = None,
        eval_dataset: RowsLike | None = None,
        processing_class: PreTrainedTokenizerBase | None = None,
        model: GradiendModel | None = None,
        feature_classes: Sequence[str] | None = None,
        eval_neutral_data: Dataset | Sequence[str] | None = None,
        callbacks: list | None = None,
        **kwargs,
    ):
        args = args if args is not None else GradiendTrainingArguments(output_dir="gradiend_output")
        if not isinstance(args, GradiendTrainingArguments):
            raise TypeError(f"args must be GradiendTrainingArguments, not {type(args).__name__}.")
        self.data, train_rows, eval_rows = split_training_data(train_dataset, eval_dataset)
        if args.eval_strategy != "no" and (eval_rows is None or len(eval_rows) == 0):
            raise ValueError(
                f"eval_strategy={args.eval_strategy.value!r} needs validation rows, but there are none. Pass "
                "eval_dataset (or a DatasetDict with a 'validation' split), or set eval_strategy='no'."
            )

        base, tokenizer, objective = load_base_model(base_model, processing_class, args.objective)
        self.tokenizer = tokenizer
        if model is not None:
            model.check_base_model(base)
        self.feature_classes = resolve_feature_classes(feature_classes, model, train_rows, eval_rows)
        train_groups = training_groups(train_rows, self.feature_classes, args.gradient_batch_size, args.seed)
        selection = (
            model.selection if model is not None
            else select_parameters(base, args.params, include_head=args.include_head)
        )
        self.engine = GradientEngine(
            base, tokenizer, selection=selection, objective=objective, placeholder=args.mask_placeholder
        )
        self.train_rows, self.eval_rows = train_rows, eval_rows
        self.eval_neutral_data = as_neutral_dataset(eval_neutral_data)
        self.training_coordinates = self._initial_coordinates(model, args)
        self._objective = objective
        if model is None:
            model = self.new_direction(args.seed, args)
        check_memory(
            model.config.input_dim, args.per_device_train_batch_size, base, self.engine.selection.num_coordinates
        )

        super().__init__(
            model=model, args=args, train_dataset=train_groups, eval_dataset=eval_rows,
            data_collator=collate_groups, callbacks=callbacks, **kwargs,
        )
        self.base_model = self.accelerator.prepare_model(base, device_placement=True, evaluation_mode=True)
        self._store: GradientStore | None = None
        self._best: dict[str, Any] | None = None
        self.seed_results: list[SeedResult] = []

    def _initial_coordinates(
        self, model: GradiendModel | None, args: GradiendTrainingArguments
    ) -> torch.Tensor | None:
        """
        The coordinates trained over: pre-pruned ones for a new direction (with `pre_prune`), those kept by a pruned
        direction continued, else `None` (all selected coordinates).
        """
        if model is None and args.pre_prune is not None:
            if self.train_rows is None:
                raise ValueError("Pre-pruning needs training rows to rank coordinates by.")
            return pre_prune_coordinates(
                self.engine, self.train_rows, self.feature_classes, args.pre_prune, seed=args.seed
            )
        if model is not None and model.config.pruned:
            return model.kept_coordinates.cpu()
        return None

    # ------------------------------------------------------------------------------------------------- directions
    def new_direction(self, seed: int, args: GradiendTrainingArguments | None = None) -> GradiendModel:
        """A freshly initialised direction (seeded) over the training coordinates."""
        args = args or self.args
        torch.manual_seed(seed)
        return GradiendModel.for_base_model(
            self.engine.model, self.engine.selection, coordinates=self.training_coordinates,
            feature_classes=self.feature_classes, source=args.source, target=args.target, objective=self._objective,
        )

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.balance_transitions and isinstance(dataset, GradientGroups):
            return BalancedTransitionSampler(dataset, self.args.seed)
        return super()._get_train_sampler(train_dataset)

    def get_model(self) -> GradiendModel:
        """The trained direction (unwrapped from any distributed wrapper)."""
        return self.accelerator.unwrap_model(self.model)

    # -------------------------------------------------------------------------------------------------- gradients
    @property
    def gradient_store(self) -> GradientStore:
        """Serves gradients over the training coordinates, from the on-disk cache when enabled (built on first use)."""
        if self._store is None:
            kinds = (self.args.source, self.args.target)
            self._store = GradientStore(self.engine, kinds, self.training_coordinates, self._open_cache(kinds))
        return self._store

    def _open_cache(self, kinds: Sequence[str]) -> GradientCache | None:
        if not self.args.gradient_cache:
            return None
        stored = kinds_to_store(kinds)
        width = (
            self.engine.selection.num_coordinates if self.training_coordinates is None
            else self.training_coordinates.numel()
        )
        units = (len(self.train_dataset) if self.train_dataset is not None else 0) + len(self.eval_rows or [])
        expected_gb = expected_cache_gb(units, width, stored, self.args.gradient_cache_dtype)
        if expected_gb > self.args.gradient_cache_max_gb:
            logger.warning(
                "The gradient cache would need about %.1f GB (> gradient_cache_max_gb=%.1f); gradients are "
                "recomputed at every use instead. Pre-prune, or raise gradient_cache_max_gb.",
                expected_gb, self.args.gradient_cache_max_gb,
            )
            return None
        fingerprint = cache_fingerprint(self.engine, self.training_coordinates, stored, self.args.gradient_cache_dtype)
        directory = cache_directory(fingerprint, self.args.gradient_cache_dir)
        return GradientCache(
            directory, fingerprint, width, capacity=max(units, 16), kinds=stored,
            dtype=self.args.gradient_cache_dtype,
        )

    def _project(self, x: torch.Tensor, direction: GradiendModel) -> torch.Tensor:
        """Columns of `x` (over the training coordinates) that `direction` reads."""
        if not direction.config.pruned:
            return x
        kept = direction.kept_coordinates.to(x.device)
        if self.training_coordinates is None:
            return x[:, kept]
        if torch.equal(self.training_coordinates.to(x.device), kept):
            return x
        return x[:, torch.searchsorted(self.training_coordinates.to(x.device), kept)]

    def gradient_inputs(self, inputs: dict[str, Any], model: GradiendModel | None = None) -> tuple[torch.Tensor, ...]:
        """
        Source and target gradients of a batch of groups, restricted to the direction's kept coordinates.

        Returns:
            `(x, y)`, each of shape `(groups, input_dim)`.
        """
        direction = self.accelerator.unwrap_model(model if model is not None else self.model)
        xs, ys = [], []
        groups = zip(inputs["masked"], inputs["factual"], inputs["alternative"], strict=True)
        for masked, factual, alternative in groups:
            pair = self.gradient_store.group(masked, factual, alternative)
            xs.append(pair.get(direction.config.source))
            ys.append(pair.get(direction.config.target))
        x, y = torch.cat(xs), torch.cat(ys)
        if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
            raise FloatingPointError(
                f"Non-finite gradients at step {self.state.global_step} for the texts {inputs['masked']}. Check the "
                "base model's dtype (float16 overflows) and the texts."
            )
        device = direction.device
        return self._project(x, direction).to(device), self._project(y, direction).to(device)

    # --------------------------------------------------------------------------------------------------- training
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        x, y = self.gradient_inputs(inputs, model)
        outputs = model(gradients=x, targets=y)
        if not torch.isfinite(outputs.loss):
            raise FloatingPointError(
                f"The loss became {outputs.loss.item()} at step {self.state.global_step} (texts {inputs['masked']}). "
                "Lower learning_rate."
            )
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def floating_point_ops(self, inputs: dict[str, Any]) -> int:
        # The base model's passes dominate and are not GRADIEND's parameters; report the direction's own matmuls.
        return 6 * len(inputs["masked"]) * self.get_model().num_parameters()

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:
            direction = self.get_model()
            logs = {**logs, "encoder_norm": float(direction.encoder.weight.detach().norm()),
                    "decoder_norm": float(direction.decoder.weight.detach().norm())}
        super().log(logs, start_time)

    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs):
        """
        Train `max_seeds` seeds at most (stopping once `min_convergent_seeds` converged), keep the best direction by
        validation correlation, orient it (first class → +1, output-preserving), post-prune it, and save it to
        `output_dir`.
        """
        if resume_from_checkpoint and self.args.max_seeds > 1:
            raise ValueError("resume_from_checkpoint works with max_seeds=1; resume each seed's run separately.")
        base_seed, output = self.args.seed, None
        try:
            for index in range(self.args.max_seeds):
                seed = base_seed + index
                if index:
                    self.args.seed = seed
                    self.model_init = functools.partial(self.new_direction, seed)
                self._best = None
                output = super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)
                self._finish_seed(seed)
                if sum(r.converged for r in self.seed_results) >= self.args.min_convergent_seeds:
                    break
        finally:
            self.args.seed, self.model_init = base_seed, None
        self._select_best_seed()
        if self.args.post_prune is not None:
            self._replace_model(self._post_prune(self.get_model(), self.args.post_prune))
        if self.is_world_process_zero():
            self.save_model()
            if len(self.seed_results) > 1:
                write_seed_report(self.seed_results, Path(self.args.output_dir) / "seed_report.json")
        return output

    CALIBRATION_ROWS = 64
    """Rows whose per-text gradients fit the post-pruned encoder's scale."""

    def _post_prune(self, direction: GradiendModel, config: PostPruneConfig) -> GradiendModel:
        """The direction pruned to `config.topk` coordinates, its encoder rescaled when `config` asks for it."""
        pruned = direction.prune(config.topk, config.part)
        if config.rescale_encoder:
            rows = self.eval_rows if self.eval_rows is not None and len(self.eval_rows) else self.train_rows
            if rows is None:
                return pruned
            rows = rows.select(range(min(len(rows), self.CALIBRATION_ROWS)))
            pair = self.gradient_store.per_text(rows["masked"], rows["factual"], rows["alternative"])
            x = self._project(pair.get(direction.config.source), direction)
            scale = pruned.rescale_encoder_(direction, x)
            logger.info("Post-pruning kept %d coordinates; encoder rescaled by %.3f.", pruned.config.input_dim, scale)
        return pruned

    def _finish_seed(self, seed: int) -> None:
        """Restore the best evaluated state of this seed, orient it and record its validation metrics."""
        direction = self.get_model()
        if self._best is not None:
            direction.load_state_dict(self._best["state"])
        metrics = None
        if self.eval_rows is not None and len(self.eval_rows):
            metrics = self._encoder_metrics(self.eval_rows)
            if metrics["correlation"] < 0:
                direction.flip_sign_()
                metrics = self._encoder_metrics(self.eval_rows)
        ok = metrics is None or converged(
            metrics, self.feature_classes, self.args.convergence_correlation, self.args.convergence_class_mean
        )
        state = {k: v.detach().cpu().clone() for k, v in direction.state_dict().items()}
        self.seed_results.append(SeedResult(
            seed=seed, converged=ok, metrics=metrics or {}, state=state, log_history=list(self.state.log_history)
        ))

    def _select_best_seed(self) -> None:
        scored = [r for r in self.seed_results if r.metrics]
        if not scored:
            return
        best = max(scored, key=lambda r: (r.converged, r.metrics["correlation"]))
        for result in self.seed_results:
            result.selected = result is best
        self.get_model().load_state_dict(best.state)
        if not best.converged:
            logger.warning(
                "No seed converged (best validation r=%.3f); the direction saved is the best non-convergent one.",
                best.metrics["correlation"],
            )

    def _replace_model(self, model: GradiendModel) -> None:
        self.model = model
        self.model_wrapped = model

    # ------------------------------------------------------------------------------------------------- evaluation
    @torch.no_grad()
    def encode_rows(self, rows: Any, batch_size: int | None = None) -> torch.Tensor:
        """
        Encode the source gradient of every row (per text, batched; cached texts are read back).

        Args:
            rows: Rows with the columns of [`ROW_COLUMNS`].
            batch_size (`int`, *optional*): Texts per forward pass; `per_device_eval_batch_size` by default.

        Returns:
            `torch.Tensor` of shape `(len(rows),)` with `h` per row.
        """
        rows = as_dataset(rows)
        direction = self.get_model()
        batch_size = batch_size or self.args.per_device_eval_batch_size
        encodings = []
        for start in tqdm(range(0, len(rows), batch_size), desc="Encoding", disable=len(rows) <= batch_size):
            chunk = rows[start:start + batch_size]
            pair = self.gradient_store.per_text(chunk["masked"], chunk["factual"], chunk["alternative"])
            x = self._project(pair.get(direction.config.source), direction)
            encodings.append(direction.encode(x.to(direction.device))[:, 0].cpu())
        return torch.cat(encodings)

    def _encoder_metrics(self, rows: Dataset) -> dict[str, float]:
        labels = torch.tensor(labels_for(rows, self.feature_classes))
        return encoder_metrics(self.encode_rows(rows), labels, self.feature_classes)

    def evaluate(
        self, eval_dataset: Any = None, ignore_keys: list[str] | None = None, metric_key_prefix: str = "eval"
    ) -> dict[str, float]:
        """
        Encoder metrics on validation rows: Pearson correlation between `h` and the ±1 labels, sign accuracy and
        the mean `h` per class, logged as `<prefix>_correlation`, `<prefix>_mean_<class>`, ...
        """
        rows = as_dataset(eval_dataset, "eval_dataset") if eval_dataset is not None else self.eval_rows
        if rows is None or len(rows) == 0:
            raise ValueError("evaluate() needs validation rows: pass eval_dataset or a DatasetDict with 'validation'.")
        raw = self._encoder_metrics(rows)
        if eval_dataset is None and self.model_wrapped is not None and math.isfinite(raw["correlation"]):
            score = abs(raw["correlation"])
            if self._best is None or score > self._best["score"]:
                state = {k: v.detach().cpu().clone() for k, v in self.get_model().state_dict().items()}
                self._best = {"score": score, "state": state, "step": self.state.global_step}
        metrics = {f"{metric_key_prefix}_{k}": v for k, v in raw.items()}
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    def split_rows(self, split: str) -> Dataset:
        """
        Rows of `split` (`"train"`, `"validation"` or `"test"`) from the data the trainer was given: a `DatasetDict`'s
        split, or `train_dataset`/`eval_dataset` for `"train"`/`"validation"`.
        """
        if self.data is not None and split in self.data:
            return as_dataset(self.data[split], split)
        if split == "validation" and self.eval_rows is not None:
            return self.eval_rows
        if split == "train" and self.train_dataset is not None:
            return self.train_dataset.dataset
        available = list(self.data) if self.data is not None else ["train", "validation"]
        raise ValueError(f"No rows for split {split!r}; available: {available}. Pass a DatasetDict with that split.")

    def plot_training_convergence(self, output_path: str | os.PathLike | None = None, **kwargs):
        """
        Validation correlation and class means over steps, one line per seed tried. Writes
        `<output_dir>/training_convergence.png` unless `output_path` is given. Needs the `plot` extra.

        Returns:
            `(figure, path)`.
        """
        from ..plotting.convergence import plot_training_convergence

        histories = {f"seed {r.seed}": r.log_history for r in self.seed_results} or {"run": self.state.log_history}
        path = output_path or Path(self.args.output_dir) / "training_convergence.png"
        return plot_training_convergence(histories, self.feature_classes, path, **kwargs)

    def save_seed_report(self, path: str | os.PathLike) -> None:
        """Write the per-seed validation metrics and convergence verdicts as JSON."""
        write_seed_report(self.seed_results, Path(path))

