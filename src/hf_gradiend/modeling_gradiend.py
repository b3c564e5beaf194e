"""The GRADIEND model: a one-neuron encoder over base-model gradients and a linear decoder back to them."""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass

import torch
import transformers.initialization as init
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .cards import write_direction_card
from .configuration_gradiend import ACTIVATIONS, GradiendConfig
from .errors import LatentDimError
from .gradients.selection import ParameterSelection

IMPORTANCE_PARTS = ("encoder-weight", "decoder-weight", "decoder-bias", "decoder-sum")


@dataclass
class GradiendOutput(ModelOutput):
    """
    Output of [`GradiendModel.forward`].

    Args:
        loss (`torch.Tensor`, *optional*): MSE between `reconstruction` and the targets, when targets are given.
        encoding (`torch.Tensor` of shape `(batch, latent_dim)`): The encoder's output `h`.
        reconstruction (`torch.Tensor` of shape `(batch, input_dim)`): The decoder's output `dec(h)`.
    """

    loss: torch.Tensor | None = None
    encoding: torch.Tensor | None = None
    reconstruction: torch.Tensor | None = None


class GradiendPreTrainedModel(PreTrainedModel):
    config_class = GradiendConfig
    base_model_prefix = "gradiend"
    main_input_name = "gradients"
    supports_gradient_checkpointing = False

    def _init_weights(self, module: nn.Module) -> None:
        # The encoder starts like `nn.Linear`; the decoder's weight and bias are uniform in ±max|w_e|. Children are
        # visited in order, so the encoder is ready when the decoder is reached. `init.*` skips loaded tensors.
        if module is getattr(self, "encoder", None):
            init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            bound = 1 / math.sqrt(module.in_features)
            init.uniform_(module.bias, -bound, bound)
        elif module is getattr(self, "decoder", None):
            bound = float(self.encoder.weight.detach().abs().max())
            init.uniform_(module.weight, -bound, bound)
            if module.bias is not None:
                init.uniform_(module.bias, -bound, bound)


class GradiendModel(GradiendPreTrainedModel):
    r"""
    A GRADIEND direction: `h = act_e(W_e x + b_e)` reads a gradient vector `x` over the selected base weights, and
    `dec(h) = act_d(W_d h + b_d)` reconstructs a target gradient. `dec(h)` doubles as a weight update of the base
    model: `θ' = θ + α · dec(h)`.

    Coordinates are *base-global*: index `i` is element `i` of the concatenated, flattened selected parameters (see
    [`ParameterSelection`]). After pruning the model keeps `input_dim` of them, listed in the buffer `coordinates`.

    Example:

    ```python
    >>> from transformers import AutoModel
    >>> import hf_gradiend  # registers the "gradiend" model type
    >>> direction = AutoModel.from_pretrained("path/to/direction")
    >>> h = direction.encode(gradients)          # (batch, 1), ≈ +1 for the first class, -1 for the second
    >>> deltas = direction.update_for(1.0)      # {param_name: tensor in the base shape}
    ```
    """

    def __init__(self, config: GradiendConfig):
        super().__init__(config)
        self.encoder = nn.Linear(config.input_dim, config.latent_dim)
        self.decoder = nn.Linear(config.latent_dim, config.input_dim, bias=config.decoder_bias)
        if config.pruned:
            self.register_buffer("coordinates", torch.zeros(config.input_dim, dtype=torch.long))
        self.post_init()

    # ----------------------------------------------------------------------------------------------------- layout
    @property
    def selection(self) -> ParameterSelection | None:
        """The base parameters the direction covers, or `None` when the config does not record them."""
        if not self.config.param_names:
            return None
        return ParameterSelection(
            tuple(self.config.param_names), tuple(tuple(s) for s in self.config.param_shapes)
        )

    @property
    def kept_coordinates(self) -> torch.Tensor:
        """Base-global indices of the coordinates this model reads and writes (all of them when unpruned)."""
        if self.config.pruned:
            return self.coordinates
        return torch.arange(self.config.input_dim, device=self.encoder.weight.device)

    def check_base_model(self, base_model: nn.Module) -> None:
        """
        Raise [`ParameterMismatchError`] if `base_model` does not have the parameters (names and shapes) this
        direction was learned on; the message names the first one that differs.
        """
        selection = self.selection
        if selection is None:
            raise ValueError("This direction records no parameter map (config.param_names); it cannot be checked.")
        selection.check(base_model)

    # ---------------------------------------------------------------------------------------------------- compute
    def encode(self, gradients: torch.Tensor) -> torch.Tensor:
        """Encode gradients of shape `(batch, input_dim)` into `h` of shape `(batch, latent_dim)`."""
        gradients = gradients.to(self.encoder.weight.dtype)
        return ACTIVATIONS[self.config.activation_encoder](self.encoder(gradients))

    def decode(self, h: torch.Tensor | float) -> torch.Tensor:
        """
        Decode `h` into gradient space. A number is read as `h` for a single example (latent_dim 1 only).

        Returns:
            `torch.Tensor` of shape `(batch, input_dim)` (or `(input_dim,)` for a number).
        """
        if not torch.is_tensor(h):
            self._require_scalar_latent("decode(h) with a number")
            out = self.decoder(torch.full((1, 1), float(h), dtype=self.decoder.weight.dtype, device=self.device))
            return ACTIVATIONS[self.config.activation_decoder](out)[0]
        return ACTIVATIONS[self.config.activation_decoder](self.decoder(h.to(self.decoder.weight.dtype)))

    def forward(self, gradients: torch.Tensor, targets: torch.Tensor | None = None, **kwargs) -> GradiendOutput:
        """
        Args:
            gradients (`torch.Tensor` of shape `(batch, input_dim)`): Source gradients.
            targets (`torch.Tensor` of shape `(batch, input_dim)`, *optional*): Target gradients; gives the MSE loss.
        """
        encoding = self.encode(gradients)
        reconstruction = self.decode(encoding)
        loss = None
        if targets is not None:
            loss = F.mse_loss(reconstruction, targets.to(reconstruction.dtype))
        return GradiendOutput(loss=loss, encoding=encoding, reconstruction=reconstruction)

    @torch.no_grad()
    def update_for(self, h: float, alpha: float = 1.0) -> dict[str, torch.Tensor]:
        """
        The weight update `alpha · dec(h)` as per-parameter tensors in the base model's shapes.

        Coordinates pruned away get zero. Add each tensor to the base parameter of the same name to rewrite it.

        Args:
            h (`float`): Feature value; +1 is the first class, -1 the second, 0 the decoder bias alone.
            alpha (`float`, *optional*, defaults to 1.0): Step size (learning rate) of the update.

        Returns:
            `dict[str, torch.Tensor]` mapping parameter names to deltas.
        """
        self._require_scalar_latent("update_for(h)")
        selection = self._require_selection()
        values = alpha * self.decode(float(h))
        if not self.config.pruned:
            return selection.split(values)
        full = torch.zeros(selection.num_coordinates, dtype=values.dtype, device=values.device)
        full[self.coordinates] = values
        return selection.split(full)

    @torch.no_grad()
    def flip_sign_(self) -> GradiendModel:
        """
        Swap which class encodes as +1, in place, without changing what the decoder produces for a text: negate
        `w_e`, `b_e` and `w_d` and keep `b_d`. With an odd encoder activation (tanh) the new `h` is `-h` and
        `dec(-h) = W_d h + b_d` is the old reconstruction.
        """
        if self.config.activation_encoder not in ("tanh", "id"):
            raise ValueError(
                f"flip_sign_ needs an odd encoder activation (tanh or id), not {self.config.activation_encoder!r}."
            )
        self.encoder.weight.neg_()
        self.encoder.bias.neg_()
        self.decoder.weight.neg_()
        return self

    # ------------------------------------------------------------------------------------------------------ saving
    def save_pretrained(self, save_directory: str | os.PathLike, *args, **kwargs) -> None:
        """`PreTrainedModel.save_pretrained` (config.json + model.safetensors), plus the direction's card README.md."""
        super().save_pretrained(save_directory, *args, **kwargs)
        if kwargs.get("is_main_process", True):
            write_direction_card(self.config, save_directory)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        commit_message: str | None = None,
        private: bool | None = None,
        token: bool | str | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        max_shard_size: int | str | None = "50GB",
        **kwargs,
    ) -> str:
        """
        Upload the direction (config, weights and its card) as a Hub model repo; loads with `AutoModel.from_pretrained`
        after `import hf_gradiend`.
        """
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        with tempfile.TemporaryDirectory() as folder:
            self.save_pretrained(folder, max_shard_size=max_shard_size)
            write_direction_card(self.config, folder, repo_id=repo_id)
            return self._upload_modified_files(  # transformers' own upload path: one commit of the folder
                folder, repo_id, files_timestamps={}, commit_message=commit_message or "Upload GRADIEND direction",
                token=token, create_pr=create_pr, revision=revision,
            )

    # ------------------------------------------------------------------------------------------------- importance
    @torch.no_grad()
    def importance(self, part: str = "decoder-weight") -> torch.Tensor:
        """
        Importance of each kept coordinate.

        Args:
            part (`str`): `"encoder-weight"` (L1 of `W_e`'s column), `"decoder-weight"` (L1 of `W_d`'s row),
                `"decoder-bias"` (`|b_d|`) or `"decoder-sum"` (`|Σ_k W_d + b_d|`).

        Returns:
            `torch.Tensor` of shape `(input_dim,)`, aligned with [`kept_coordinates`].
        """
        if part == "encoder-weight":
            return self.encoder.weight.abs().sum(dim=0)
        if part == "decoder-weight":
            return self.decoder.weight.abs().sum(dim=1)
        if part in ("decoder-bias", "decoder-sum") and self.decoder.bias is None:
            raise ValueError(f"part={part!r} needs a decoder bias, but this direction has decoder_bias=False.")
        if part == "decoder-bias":
            return self.decoder.bias.abs()
        if part == "decoder-sum":
            return (self.decoder.weight.sum(dim=1) + self.decoder.bias).abs()
        raise ValueError(f"part={part!r} is not one of {', '.join(IMPORTANCE_PARTS)}.")

    @torch.no_grad()
    def topk(self, k: int | float, part: str = "decoder-weight") -> torch.Tensor:
        """
        Base-global coordinates of the `k` most important weights, most important first.

        Args:
            k (`int` or `float`): A count, or a fraction in (0, 1) of the kept coordinates.
            part (`str`): See [`importance`].
        """
        scores = self.importance(part)
        count = resolve_count(k, scores.numel())
        order = torch.topk(scores.float(), count, sorted=True).indices
        return self.kept_coordinates[order]

    @torch.no_grad()
    def prune(self, k: int | float, part: str = "decoder-weight") -> GradiendModel:
        """
        A smaller direction keeping the `k` most important coordinates (a count, or a fraction of the kept ones).

        The result reads and writes only those coordinates; its `coordinates` buffer holds their base-global indices,
        so it still compares with (and rewrites the same weights as) the direction it came from.
        """
        local = torch.topk(self.importance(part).float(), resolve_count(k, self.config.input_dim)).indices
        local = local.sort().values
        fields = {**self.config.to_dict(), "input_dim": int(local.numel()), "pruned": True}
        config = self.config.__class__.from_dict(fields)
        pruned = self.__class__(config).to(device=self.device, dtype=self.dtype)
        pruned.coordinates.copy_(self.kept_coordinates[local])
        pruned.encoder.weight.copy_(self.encoder.weight[:, local])
        pruned.encoder.bias.copy_(self.encoder.bias)
        pruned.decoder.weight.copy_(self.decoder.weight[local])
        if self.decoder.bias is not None:
            pruned.decoder.bias.copy_(self.decoder.bias[local])
        return pruned

    @torch.no_grad()
    def rescale_encoder_(self, reference: GradiendModel, gradients: torch.Tensor) -> float:
        """
        Scale this (pruned) direction's encoder weights so its pre-activations `w_e·x` match those of `reference`
        (the direction it was pruned from) on `gradients`, in the least-squares sense; the decoder is unchanged.

        Pruning drops most of the encoder's input, which shrinks `w_e·x` and so pulls `h` towards 0; one scale fitted
        on real gradients restores the ±1 encodings the decoder grid assumes.

        Args:
            reference ([`GradiendModel`]): The direction before pruning (its kept coordinates contain this one's).
            gradients (`torch.Tensor`): Source gradients of shape `(batch, reference.config.input_dim)`.

        Returns:
            `float`: The scale applied (1.0 when the fit is degenerate).
        """
        kept, reference_kept = self.kept_coordinates, reference.kept_coordinates.to(self.kept_coordinates.device)
        local = torch.searchsorted(reference_kept, kept)
        if local.numel() and (local.max() >= reference_kept.numel() or not torch.equal(reference_kept[local], kept)):
            raise ValueError("The reference direction does not contain this direction's coordinates.")
        x = gradients.to(device=self.encoder.weight.device, dtype=self.encoder.weight.dtype)
        target = x @ reference.encoder.weight.to(x).T
        pruned = x[:, local] @ self.encoder.weight.T
        denominator = float((pruned * pruned).sum())
        scale = float((pruned * target).sum()) / denominator if denominator > 0 else 1.0
        if not math.isfinite(scale) or scale <= 0:
            return 1.0
        self.encoder.weight.mul_(scale)
        return scale

    # -------------------------------------------------------------------------------------------------- internals
    def _require_scalar_latent(self, what: str) -> None:
        if self.config.latent_dim != 1:
            raise LatentDimError(
                f"{what} reads h as one number, but this direction has latent_dim={self.config.latent_dim}. "
                "Pass an h tensor of shape (batch, latent_dim) to decode(), or train with latent_dim=1."
            )

    def _require_selection(self) -> ParameterSelection:
        selection = self.selection
        if selection is None:
            raise ValueError(
                "This direction records no parameter map (config.param_names), so its update has no base shapes. "
                "Create it with GradiendModel.for_base_model(...) or a GradiendTrainer."
            )
        return selection

    @classmethod
    def for_base_model(
        cls,
        base_model: nn.Module,
        selection: ParameterSelection,
        coordinates: torch.Tensor | None = None,
        **config_kwargs,
    ) -> GradiendModel:
        """
        A freshly initialised direction over `selection` of `base_model`, with the base model's provenance recorded.

        Args:
            base_model (`PreTrainedModel`): The model the gradients come from.
            selection (`ParameterSelection`): The covered parameters.
            coordinates (`torch.Tensor`, *optional*): Base-global coordinates to keep (a pruned direction).
            config_kwargs: Further [`GradiendConfig`] fields (`feature_classes`, `source`, `objective`, ...).
        """
        base_config = getattr(base_model, "config", None)
        revision = getattr(base_config, "_commit_hash", None)
        config = GradiendConfig(
            input_dim=selection.num_coordinates if coordinates is None else int(coordinates.numel()),
            base_model_name_or_path=getattr(base_config, "_name_or_path", None) or None,
            base_model_revision=revision,
            base_model_architecture=type(base_model).__name__,
            param_names=list(selection.names),
            param_shapes=[list(s) for s in selection.shapes],
            param_fingerprint=selection.fingerprint,
            pruned=coordinates is not None,
            **config_kwargs,
        )
        model = cls(config)
        if coordinates is not None:
            model.coordinates.copy_(coordinates.to(torch.long))
        return model


def resolve_count(k: int | float, total: int) -> int:
    """`k` as a count out of `total`: a fraction in (0, 1) is scaled, a count is capped at `total`."""
    if isinstance(k, float) and 0 < k < 1:
        return max(1, int(round(k * total)))
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k={k!r} must be a positive count or a fraction in (0, 1).")
    return min(int(k), total)
