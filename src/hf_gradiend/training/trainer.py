"""GradiendTrainer: the transformers Trainer, training a GradiendModel on gradients of a frozen base model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from datasets import Dataset, DatasetDict
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer

from ..base_models import load_base_model
from ..evaluation.encoder_metrics import encoder_metrics
from ..gradients.engine import GradientEngine
from ..gradients.selection import select_parameters
from ..modeling_gradiend import GradiendModel
from .arguments import GradiendTrainingArguments
from .rows import (
    GradientGroups,
    as_dataset,
    as_neutral_dataset,
    collate_groups,
    infer_feature_classes,
    labels_for,
)


class GradiendTrainer(Trainer):
    r"""
    Trains a [`GradiendModel`] with the transformers training loop.

    The trained model is the direction; the base model is frozen, placed on the device through `self.accelerator`
    and never enters the optimizer. Each step asks the [`GradientEngine`] for the source and target gradients of its
    groups of texts and returns the MSE between the direction's reconstruction and the target.

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
    >>> trainer.train()
    >>> trainer.save_model()  # AutoModel.from_pretrained("out") reloads the direction
    ```
    """

    def __init__(
        self,
        base_model: str | PreTrainedModel,
        args: GradiendTrainingArguments | None = None,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        processing_class: PreTrainedTokenizerBase | None = None,
        model: GradiendModel | None = None,
        feature_classes: Sequence[str] | None = None,
        eval_neutral_data: Any = None,
        callbacks: list | None = None,
        **kwargs,
    ):
        args = args if args is not None else GradiendTrainingArguments(output_dir="gradiend_output")
        if not isinstance(args, GradiendTrainingArguments):
            raise TypeError(f"args must be GradiendTrainingArguments, not {type(args).__name__}.")
        self.data = train_dataset if isinstance(train_dataset, DatasetDict) else None
        if isinstance(train_dataset, DatasetDict):
            eval_dataset = eval_dataset if eval_dataset is not None else train_dataset.get("validation")
            train_dataset = train_dataset["train"]
        train_rows = as_dataset(train_dataset, "train_dataset") if train_dataset is not None else None
        eval_rows = as_dataset(eval_dataset, "eval_dataset") if eval_dataset is not None else None

        base, tokenizer, objective = load_base_model(base_model, processing_class, args.objective)
        self.tokenizer = tokenizer
        if model is not None:
            model.check_base_model(base)
            feature_classes = feature_classes or model.config.feature_classes
        if feature_classes is None:
            if train_rows is None:
                raise ValueError("Pass feature_classes=[positive, negative] or training rows to infer them from.")
            feature_classes = infer_feature_classes(train_rows)
        self.feature_classes = list(feature_classes)
        selection = (
            model.selection if model is not None
            else select_parameters(base, args.params, include_head=args.include_head)
        )
        self.engine = GradientEngine(
            base, tokenizer, selection=selection, objective=objective, placeholder=args.mask_placeholder
        )
        if model is None:
            torch.manual_seed(args.seed)
            model = GradiendModel.for_base_model(
                base, self.engine.selection, feature_classes=self.feature_classes, source=args.source,
                target=args.target, objective=objective,
            )
        self.eval_rows = eval_rows
        self.eval_neutral_data = as_neutral_dataset(eval_neutral_data)
        train_groups = (
            GradientGroups(train_rows, self.feature_classes, args.gradient_batch_size, args.seed)
            if train_rows is not None else None
        )
        if eval_rows is not None:
            labels_for(eval_rows, self.feature_classes)  # fail early on foreign classes
        super().__init__(
            model=model, args=args, train_dataset=train_groups, eval_dataset=eval_rows,
            data_collator=collate_groups, callbacks=callbacks, **kwargs,
        )
        self.base_model = self.accelerator.prepare_model(base, device_placement=True, evaluation_mode=True)

    # --------------------------------------------------------------------------------------------------- training
    def gradient_inputs(self, inputs: dict[str, Any], model: GradiendModel | None = None) -> tuple[torch.Tensor, ...]:
        """
        Source and target gradients of a batch of groups, restricted to the direction's kept coordinates.

        Returns:
            `(x, y)`, each of shape `(groups, input_dim)`.
        """
        direction = self.accelerator.unwrap_model(model if model is not None else self.model)
        kinds = {direction.config.source, direction.config.target}
        xs, ys = [], []
        groups = zip(inputs["masked"], inputs["factual"], inputs["alternative"], strict=True)
        for masked, factual, alternative in groups:
            pair = self.engine.gradients(masked, factual, alternative, kinds=kinds)
            xs.append(pair.get(direction.config.source))
            ys.append(pair.get(direction.config.target))
        x, y = torch.cat(xs), torch.cat(ys)
        if direction.config.pruned:
            keep = direction.kept_coordinates.to(x.device)
            x, y = x[:, keep], y[:, keep]
        return x, y

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        x, y = self.gradient_inputs(inputs, model)
        outputs = model(gradients=x, targets=y)
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def floating_point_ops(self, inputs: dict[str, Any]) -> int:
        # The base model's passes dominate and are not GRADIEND's parameters; report the direction's own matmuls.
        return 6 * len(inputs["masked"]) * self.accelerator.unwrap_model(self.model).num_parameters()

    def train(self, *args, **kwargs):
        """
        Run the Trainer loop, then orient the direction: if the validation correlation is negative, flip its sign
        (output-preserving, see [`GradiendModel.flip_sign_`]) so the first feature class encodes as +1.
        """
        output = super().train(*args, **kwargs)
        if self.eval_rows is not None and len(self.eval_rows):
            h = self.encode_rows(self.eval_rows)
            labels = torch.tensor(labels_for(self.eval_rows, self.feature_classes))
            if encoder_metrics(h, labels, self.feature_classes)["correlation"] < 0:
                self.get_model().flip_sign_()
        return output

    # ------------------------------------------------------------------------------------------------- evaluation
    @torch.no_grad()
    def encode_rows(self, rows: Any, batch_size: int | None = None) -> torch.Tensor:
        """
        Encode the source gradient of every row (per text, batched).

        Args:
            rows: Rows with the columns of [`ROW_COLUMNS`].
            batch_size (`int`, *optional*): Texts per forward pass; `per_device_eval_batch_size` by default.

        Returns:
            `torch.Tensor` of shape `(len(rows),)` with `h` per row.
        """
        rows = as_dataset(rows)
        direction = self.accelerator.unwrap_model(self.model)
        batch_size = batch_size or self.args.per_device_eval_batch_size
        encodings = []
        for start in tqdm(range(0, len(rows), batch_size), desc="Encoding", disable=len(rows) <= batch_size):
            chunk = rows[start:start + batch_size]
            pair = self.engine.gradients(
                chunk["masked"], chunk["factual"], chunk["alternative"], kinds={direction.config.source},
                per_text=True,
            )
            x = pair.get(direction.config.source)
            if direction.config.pruned:
                x = x[:, direction.kept_coordinates.to(x.device)]
            encodings.append(direction.encode(x.to(direction.device))[:, 0].cpu())
        return torch.cat(encodings)

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
        h = self.encode_rows(rows)
        labels = torch.tensor(labels_for(rows, self.feature_classes))
        metrics = {f"{metric_key_prefix}_{k}": v for k, v in encoder_metrics(h, labels, self.feature_classes).items()}
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

    def get_model(self) -> GradiendModel:
        """The trained direction (unwrapped from any distributed wrapper)."""
        return self.accelerator.unwrap_model(self.model)

