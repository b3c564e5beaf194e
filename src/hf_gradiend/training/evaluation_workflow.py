"""`evaluate_encoder` and `evaluate_decoder` as trainer methods (mixed into [`GradiendTrainer`])."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..evaluation.decoder import evaluate_decoder_grid, selection_targets
from ..evaluation.encoder import analyze_encoder
from ..evaluation.grid_config import DecoderGridConfig, grid_config
from ..evaluation.policies import resolve_policy
from ..evaluation.texts import class_words
from ..gradients.objectives import unwrap_model

SPLITS = ("train", "validation", "test")


class EvaluationMixin:
    """
    Workflow step 3 on a trainer: analyse the encoder and choose decoder rewrites.

    It reads these trainer attributes: `engine` (the [`GradientEngine`]), `base_model`, `tokenizer`, `get_model()`,
    `feature_classes`, `split_rows(split)`, `eval_neutral_data`, `encode_rows(rows, batch_size)` and
    `args.output_dir` / `args.per_device_eval_batch_size`.
    """

    # ------------------------------------------------------------------------------------------------ helpers
    def target_words(self) -> dict[str, list[str]]:
        """The words of each feature class over every split the trainer has (train, validation, test)."""
        splits = []
        for split in SPLITS:
            try:
                splits.append(self.split_rows(split))
            except ValueError:
                continue
        return class_words(splits, self.feature_classes)

    def _rows(self, split: str):
        rows = self.split_rows(split)
        if len(rows) == 0:
            raise ValueError(f"The {split!r} split has no rows; evaluate a split with rows of both classes.")
        return rows

    def _neutral_texts(self, neutral_data: Any) -> list[str] | None:
        from ..rows import as_neutral_dataset

        data = as_neutral_dataset(neutral_data) if neutral_data is not None else self.eval_neutral_data
        return None if data is None else list(data["text"])

    def _plot_path(self, plot: bool | str | os.PathLike, name: str) -> Path | None:
        if plot is False or plot is None:
            return None
        from ..plotting import check_output_path

        return check_output_path(Path(self.args.output_dir) / name if plot is True else plot)

    # ---------------------------------------------------------------------------------------------- encoder
    def evaluate_encoder(
        self,
        split: str = "test",
        plot: bool | str | os.PathLike = False,
        return_dataset: bool = False,
        max_size: int | None = None,
        neutral_data: Any = None,
        batch_size: int | None = None,
        boundary: float = 0.5,
        seed: int = 0,
    ) -> dict[str, Any]:
        r"""
        Encode the source gradients of a split's rows and of feature-neutral texts, and report how `h` separates
        the classes.

        Three groups are encoded: the split's rows (`"training"`, labelled +1/-1 by factual class), the split's
        texts with the target word filled in and another word masked (`"neutral_training_masked"`), and the neutral
        texts with one random non-target word masked (`"neutral_dataset"`). Gradients are computed per text in
        batches by `encode_rows` (reading the gradient cache when there is one).

        Args:
            split (`str`, *optional*, defaults to `"test"`): `"train"`, `"validation"` or `"test"`.
            plot (`bool` or path, *optional*, defaults to `False`): Draw the distribution figure (one column per
                class and per neutral group) to `<output_dir>/encoder_<split>.png`, or to the given path.
            return_dataset (`bool`, *optional*, defaults to `False`): Add the encodings as a `datasets.Dataset`.
            max_size (`int`, *optional*): At most this many rows per class and texts per neutral group.
            neutral_data (`Dataset` with `text` or `list[str]`, *optional*): Overrides the trainer's
                `eval_neutral_data`. Texts with target words are dropped with a warning.
            batch_size (`int`, *optional*): Texts per gradient pass; `per_device_eval_batch_size` by default.
            boundary (`float`, *optional*, defaults to 0.5): The ternary accuracy's cut.
            seed (`int`, *optional*, defaults to 0): Seed of sampling and of the masked neutral words.

        Returns:
            `dict` with `correlation`, `accuracy`, `ternary_accuracy`, `boundary`, `mean_by_feature_class`,
            `std_by_feature_class`, `n_by_feature_class`, `mean_by_class` (label value → mean; 0.0 = all neutral
            rows), `mean_by_group`, `abs_mean_by_group`, `std_by_group`, `n_by_group`, `neutral_dataset_mean`,
            `neutral_training_masked_mean`, `n_samples`, `neutral_dropped`, `neutral_skipped`, `split`, plus
            `encodings` (with `return_dataset`) and `plot_path` (with `plot`).

        Example:

        ```python
        >>> report = trainer.evaluate_encoder(split="test", plot=True)
        >>> report["correlation"], report["mean_by_feature_class"], report["neutral_dataset_mean"]
        ```
        """
        path = self._plot_path(plot, f"encoder_{split}.png")
        rows = self._rows(split)
        batch_size = batch_size or self.args.per_device_eval_batch_size
        report = analyze_encoder(
            lambda dataset: self.encode_rows(dataset, batch_size),
            rows,
            self.feature_classes,
            self.engine.objective,
            neutral_texts=self._neutral_texts(neutral_data),
            words=self.target_words(),
            max_size=max_size,
            boundary=boundary,
            seed=seed,
            return_dataset=return_dataset or path is not None,
        )
        report["split"] = split
        if path is not None:
            from ..plotting import plot_encoder_distributions

            _, written = plot_encoder_distributions(
                report["encodings"], self.feature_classes, output_path=path, boundary=boundary,
                title=f"Encoder distribution ({split} split)",
            )
            report["plot_path"] = str(written)
            if not return_dataset:
                del report["encodings"]
        return report

    # ---------------------------------------------------------------------------------------------- decoder
    def evaluate_decoder(
        self,
        target_class: str | None = None,
        increase: bool | None = True,
        plot: bool | str | os.PathLike = False,
        *,
        config: DecoderGridConfig | None = None,
        split: str = "test",
        neutral_data: Any = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        r"""
        Choose a rewrite `θ + α·dec(h)` of the base model per class from a grid of learning rates α and feature
        values h, under a language-modelling constraint.

        Every grid point writes `θ + α·dec(h)` into the selected base weights in place, from saved copies of the
        originals that are copied back at the end (the base model is bit-identical afterwards; no model copies).
        Scores per point: the mean probability of each class's words at the placeholder of the split's masked texts
        (multi-piece words: product over pieces; case variants summed), and the language-modelling score (LMS) on the
        neutral texts — for a masked LM the top-1 accuracy on 15 % seeded random masked non-special, non-target
        tokens; for a causal LM the next-token top-1 accuracy on non-target tokens. `h = 0` is the decoder-bias-only
        ("neutralising") direction.

        Args:
            target_class (`str`, *optional*): One of `feature_classes`; both classes when omitted.
            increase (`bool`, *optional*, defaults to `True`): Strengthen (`True`, key `"<class>"`), weaken (`False`,
                key `"<class>_weaken"`) or both (`None`).
            plot (`bool` or path, *optional*, defaults to `False`): Draw probability shift and LMS against α with
                the chosen point marked, to `<output_dir>/decoder_<split>.png` or to the given path.
            config ([`DecoderGridConfig`], *optional*): The grid options — `learning_rates` (1e-3 … 100 in 1-2-5
                steps by default), `feature_values` (`[1.0, 0.0, -1.0]`), `policy` (`"lms_threshold"`: the largest
                gain with LMS ≥ 0.99 × base LMS, fallback the smallest α with a warning; `"lms_times_metric"`: argmax
                of metric × LMS; or a `SelectionPolicy` instance), `early_stop`, `mask_ratio`, `case_variants`,
                `max_size`, `batch_size` (`per_device_eval_batch_size` when unset) and `seed`. The defaults when
                omitted.
            split (`str`, *optional*, defaults to `"test"`): Split whose masked texts give the probabilities.
            neutral_data (`Dataset` with `text` or `list[str]`, *optional*): Overrides `eval_neutral_data`. Texts with
                target words are dropped (warning; the count is in `settings["neutral_dropped"]`). Without neutral
                data the split's texts with the factual word filled in are used.
            **overrides: Any [`DecoderGridConfig`] field by name (`learning_rates=...`, `policy=...`), applied on
                top of `config`.

        Returns:
            `dict` with one entry per selection (`"<class>"` / `"<class>_weaken"`), each with `learning_rate`,
            `feature_value`, `lms`, `base_lms`, `target_probability`, `base_target_probability`,
            `other_probability`, `base_other_probability`, `gain`, `score`, `fallback`, `target_class`, `increase`,
            `measured_on` and `policy`; `grid` (every point, skipped ones with `reason`), `base`, `settings`, and
            `plot_path` with `plot`.

        Example:

        ```python
        >>> results = trainer.evaluate_decoder(target_class="3PL", plot=True)
        >>> results["3PL"]["learning_rate"], results["3PL"]["feature_value"], results["3PL"]["lms"]
        >>> from hf_gradiend.evaluation import DecoderGridConfig
        >>> results = trainer.evaluate_decoder(config=DecoderGridConfig(learning_rates=[0.01, 0.1]), seed=1)
        ```
        """
        config = grid_config(config, **overrides)
        selection_targets(self.feature_classes, target_class, increase)  # fail before any work
        resolve_policy(config.policy)
        path = self._plot_path(plot, f"decoder_{split}.png")
        rows = self._rows(split)
        batch_size = config.batch_size or self.args.per_device_eval_batch_size
        results = evaluate_decoder_grid(
            unwrap_model(self.base_model),
            self.tokenizer,
            self.get_model(),
            rows,
            neutral_texts=self._neutral_texts(neutral_data),
            target_class=target_class,
            increase=increase,
            config=config,
            batch_size=batch_size,
            feature_classes=self.feature_classes,
            words=self.target_words(),
            objective=self.engine.objective,
        )
        results["settings"]["split"] = split
        if path is not None:
            from ..plotting import plot_decoder_grid

            _, written = plot_decoder_grid(results, output_path=path, title=f"Decoder grid ({split} split)")
            results["plot_path"] = str(written)
        return results
