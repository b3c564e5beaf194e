"""The trainer's rewrite step: choose (α, h) from the decoder evaluation and rewrite the base model with them."""

from __future__ import annotations

import copy
import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._version import __version__
from ..cards import adapter_card, rewritten_model_card
from ..rewrite import adapter_config_from_direction
from ..rewrite.config import finite_number
from ..rewrite.output import atomic_directory, check_output_dir, write_provenance

WEAKEN_SUFFIX = "_weaken"
"""Decoder results key suffix of the entry that weakens a class (`"3SG_weaken"`); strengthening uses the bare class."""

_NOT_SELECTIONS = frozenset({"grid", "base", "settings"})  # the other keys of the decoder results


@dataclass
class RewriteChoice:
    """
    The rewrite to apply.

    Args:
        alpha (`float`): Step size α.
        feature_value (`float`): Feature value h.
        target_class (`str`, *optional*): The class strengthened (or weakened).
        increase (`bool`): Strengthen (`True`) or weaken (`False`) `target_class`.
        metrics (`dict`): The decoder-evaluation entry it came from (`lms`, `base_lms`, `target_probability`, ...);
            empty when α or h were given by hand.
    """

    alpha: float
    feature_value: float
    target_class: str | None = None
    increase: bool = True
    metrics: dict[str, Any] = field(default_factory=dict)


def choose_rewrite(
    decoder_results: Mapping[str, Any] | None = None,
    target_class: str | None = None,
    increase: bool = True,
    alpha: float | None = None,
    feature_value: float | None = None,
) -> RewriteChoice:
    """
    Pick α and h: from the decoder results' entry for `target_class` (key `"<class>"` to strengthen, `"<class>_weaken"`
    to weaken), overridden by `alpha` / `feature_value` when given.

    Args:
        decoder_results (`Mapping`, *optional*): Output of the decoder evaluation (`trainer.evaluate_decoder()`).
        target_class (`str`, *optional*): The class to strengthen or weaken; may be omitted when the results hold a
            single entry of that kind.
        increase (`bool`, *optional*, defaults to `True`): Strengthen (`True`) or weaken the class.
        alpha (`float`, *optional*), feature_value (`float`, *optional*): Explicit α and h.

    Raises:
        `ValueError`: Neither results nor both scalars are given, or the results have no entry for the request.
    """
    if alpha is not None and feature_value is not None and decoder_results is None:
        return RewriteChoice(finite_number("alpha", alpha), finite_number("feature_value", feature_value),
                             target_class, increase)
    if decoder_results is None:
        raise ValueError(
            "Pass decoder_results (from trainer.evaluate_decoder()) to use the chosen rewrite, or both alpha= and "
            "feature_value= to rewrite with values of your own."
        )
    if not isinstance(decoder_results, Mapping):
        raise TypeError(
            f"decoder_results must be the dict of evaluate_decoder(), not {type(decoder_results).__name__}."
        )
    entries = {
        k: v for k, v in decoder_results.items()
        if k not in _NOT_SELECTIONS and isinstance(v, Mapping) and "learning_rate" in v and "feature_value" in v
    }
    kind = "strengthen" if increase else "weaken"
    if target_class is None:
        candidates = [k for k in entries if k.endswith(WEAKEN_SUFFIX) != increase]
        if len(candidates) != 1:
            raise ValueError(
                f"Pass target_class= to choose which class to {kind}; the decoder results hold {sorted(entries)}."
            )
        key = candidates[0]
        target_class = key.removesuffix(WEAKEN_SUFFIX)
    else:
        key = target_class if increase else f"{target_class}{WEAKEN_SUFFIX}"
    if key not in entries:
        raise ValueError(
            f"The decoder results have no entry to {kind} target_class={target_class!r} (key {key!r}); they hold "
            f"{sorted(entries)}. Evaluate the decoder for that class, or pass alpha= and feature_value=."
        )
    entry = dict(entries[key])
    chosen_alpha, chosen_h = entry["learning_rate"], entry["feature_value"]
    if chosen_alpha is None or chosen_h is None:
        raise ValueError(f"The decoder result {key!r} is the unmodified base model (no α, h); nothing to rewrite.")
    matches = (alpha is None or alpha == chosen_alpha) and (feature_value is None or feature_value == chosen_h)
    return RewriteChoice(
        alpha=finite_number("alpha", chosen_alpha if alpha is None else alpha),
        feature_value=finite_number("feature_value", chosen_h if feature_value is None else feature_value),
        target_class=target_class,
        increase=increase,
        metrics=entry if matches else {},
    )


class RewriteMixin:
    """
    Rewrite methods for [`GradiendTrainer`]. They read the trainer's `get_model()` (the direction), `base_model`,
    `tokenizer` and `feature_classes`, and never modify the trainer's base model (they rewrite a copy).
    """

    def rewrite_adapter(
        self,
        decoder_results: Mapping[str, Any] | None = None,
        target_class: str | None = None,
        increase: bool = True,
        alpha: float | None = None,
        feature_value: float | None = None,
    ):
        """
        The rewrite as an unmerged peft adapter on a copy of the base model (`PeftModel`), e.g. to compare with
        `disable_adapter()`, change α with `set_scale`, save or push it, or export it with `export_lora`.

        Arguments as in [`rewrite_base_model`].
        """
        choice = choose_rewrite(decoder_results, target_class, increase, alpha, feature_value)
        self._check_target_class(choice)
        return self._adapter_model(choice)

    def rewrite_base_model(
        self,
        decoder_results: Mapping[str, Any] | None = None,
        target_class: str | None = None,
        increase: bool = True,
        output_dir: str | os.PathLike | None = None,
        alpha: float | None = None,
        feature_value: float | None = None,
        overwrite: bool = False,
        push_to_hub: bool = False,
        hub_model_id: str | None = None,
        hub_private: bool | None = None,
        hub_token: str | None = None,
        save_adapter: bool = True,
    ) -> nn.Module:
        """
        Rewrite (a copy of) the base model as `θ + α · dec(h)` through the GRADIEND adapter and `merge_and_unload`.

        Args:
            decoder_results (`dict`, *optional*): Output of the decoder evaluation; its entry for `target_class` gives
                α (`learning_rate`) and h (`feature_value`) and the numbers for the model card.
            target_class (`str`, *optional*): The class to strengthen (or weaken); may be omitted when the results
                hold one entry of that kind.
            increase (`bool`, *optional*, defaults to `True`): Strengthen the class (`False`: weaken it).
            output_dir (`str`, *optional*): Save the rewritten model, its tokenizer, a model card (`README.md`), the
                provenance (`gradiend_rewrite.json`) and — with `save_adapter` — the adapter in `adapter/`. The folder
                loads with `AutoModelFor*.from_pretrained` without hf_gradiend. Written whole or not at all.
            alpha (`float`, *optional*), feature_value (`float`, *optional*): Override (or, without decoder results,
                give) α and h.
            overwrite (`bool`, *optional*, defaults to `False`): Replace an `output_dir` that holds another model.
            push_to_hub (`bool`, *optional*, defaults to `False`): Upload the same folder to `hub_model_id`.
            hub_model_id (`str`, *optional*): Repository for the rewritten model (required with `push_to_hub`).
            hub_private (`bool`, *optional*), hub_token (`str`, *optional*): Repository visibility and token; the
                training arguments' `hub_private_repo` / `hub_token` by default.
            save_adapter (`bool`, *optional*, defaults to `True`): Also save the adapter (changed coordinates only).

        Returns:
            The rewritten plain model (`*ForMaskedLM` / `*ForCausalLM`), weights exactly `θ + α · dec(h)`.

        Raises:
            `ValueError`: No decoder result for the request, `output_dir` holds another model, `push_to_hub` without
                `hub_model_id`, a base model that does not match the direction, or a NaN/inf rewrite. Nothing is
                written then.

        Example:

        ```python
        >>> results = trainer.evaluate_decoder()
        >>> model = trainer.rewrite_base_model(results, target_class="3SG", output_dir="smollm-3sg")
        ```
        """
        choice = choose_rewrite(decoder_results, target_class, increase, alpha, feature_value)
        self._check_target_class(choice)
        args = getattr(self, "args", None)
        if push_to_hub and not hub_model_id:
            raise ValueError("push_to_hub=True needs hub_model_id= (the repository for the rewritten model).")
        if output_dir is None and not push_to_hub:
            return self._merge(self._adapter_model(choice))
        provenance = _provenance(self.get_model(), self._base(), choice)
        if output_dir is not None:
            check_output_dir(output_dir, overwrite, provenance)
        peft_model = self._adapter_model(choice)
        repo_id = hub_model_id if push_to_hub else str(output_dir)
        if output_dir is not None:
            with atomic_directory(output_dir) as staging:
                model = self._write(peft_model, staging, choice, provenance, repo_id, save_adapter)
            folder = Path(output_dir)
        if push_to_hub:
            token = hub_token if hub_token is not None else getattr(args, "hub_token", None)
            private = hub_private if hub_private is not None else getattr(args, "hub_private_repo", None)
            if output_dir is None:
                with tempfile.TemporaryDirectory() as tmp:
                    model = self._write(peft_model, Path(tmp), choice, provenance, repo_id, save_adapter)
                    push_folder(tmp, hub_model_id, private=private, token=token, choice=choice)
            else:
                push_folder(folder, hub_model_id, private=private, token=token, choice=choice)
        return model

    # -------------------------------------------------------------------------------------------------- internals
    def _base(self) -> nn.Module:
        accelerator = getattr(self, "accelerator", None)
        return accelerator.unwrap_model(self.base_model) if accelerator is not None else self.base_model

    def _check_target_class(self, choice: RewriteChoice) -> None:
        classes = list(getattr(self, "feature_classes", None) or [])
        if choice.target_class is not None and classes and choice.target_class not in classes:
            raise ValueError(f"target_class={choice.target_class!r} is not one of the feature classes {classes}.")

    def _adapter_model(self, choice: RewriteChoice):
        from peft import get_peft_model

        config = adapter_config_from_direction(self.get_model(), choice.alpha, choice.feature_value)
        return get_peft_model(copy.deepcopy(self._base()), config)

    def _merge(self, peft_model) -> nn.Module:
        """`merge_and_unload(safe_merge=True)`, with `requires_grad` of every parameter as on the trainer's base."""
        flags = {name: p.requires_grad for name, p in self._base().named_parameters()}
        model = peft_model.merge_and_unload(safe_merge=True)
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(flags.get(name, parameter.requires_grad))
        return model

    def _write(self, peft_model, folder: Path, choice: RewriteChoice, provenance: dict, repo_id: str | None,
               save_adapter: bool) -> nn.Module:
        config = peft_model.peft_config["default"]
        architecture = type(peft_model.get_base_model()).__name__
        if save_adapter:
            peft_model.save_pretrained(str(folder / "adapter"), save_embedding_layers=False)
            card = adapter_card(config, architecture, repo_id=repo_id, subfolder="adapter")
            card.save(folder / "adapter" / "README.md")
        model = self._merge(peft_model)
        model.save_pretrained(str(folder))
        if getattr(self, "tokenizer", None) is not None:
            self.tokenizer.save_pretrained(str(folder))
        card = rewritten_model_card(
            config, architecture, choice.target_class, choice.increase, choice.metrics, repo_id=repo_id,
            has_adapter=save_adapter,
        )
        card.save(folder / "README.md")
        write_provenance(folder, provenance)
        return model


def push_folder(
    folder: str | os.PathLike, repo_id: str, private: bool | None = None, token: str | None = None,
    choice: RewriteChoice | None = None,
) -> str:
    """
    Create `repo_id` on the Hub (if needed) and upload `folder` to it.

    Returns:
        The URL of the commit.
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    what = f" ({'strengthen' if choice.increase else 'weaken'} {choice.target_class})" if choice else ""
    commit = api.upload_folder(
        repo_id=repo_id, folder_path=str(folder), repo_type="model",
        commit_message=f"GRADIEND-rewritten model{what}",
    )
    return str(getattr(commit, "commit_url", commit))


def _content_hash(direction) -> str:
    """Hash of the decoder values and kept coordinates: equal for the same direction, different otherwise."""
    digest = hashlib.sha256()
    for name, tensor in sorted(direction.state_dict().items()):
        if name.startswith("decoder.") or name == "coordinates":
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _provenance(direction, base: nn.Module, choice: RewriteChoice) -> dict[str, Any]:
    config = direction.config
    return {
        "base_model": config.base_model_name_or_path,
        "base_model_revision": config.base_model_revision,
        "architecture": type(base).__name__,
        "direction": getattr(config, "_name_or_path", None) or None,
        "param_fingerprint": config.param_fingerprint,
        "direction_sha256": _content_hash(direction),
        "alpha": choice.alpha,
        "feature_value": choice.feature_value,
        "target_class": choice.target_class,
        "increase": choice.increase,
        "hf_gradiend_version": __version__,
    }
