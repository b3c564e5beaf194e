"""The GRADIEND adapter type and its registration in peft's mapping tables.

`peft.register_peft_method` only accepts names already listed in `peft.PeftType` (peft 0.21), so GRADIEND brings its
own `str` enum member and writes it into the tables that peft consults when it creates, saves and loads adapters:

| table | read by |
| --- | --- |
| `PEFT_TYPE_TO_CONFIG_MAPPING` | `PeftConfig.from_pretrained`, `PeftModel.from_pretrained`, `get_peft_config` |
| `PEFT_TYPE_TO_TUNER_MAPPING` | `get_peft_model`, `inject_adapter_in_model` (transformers' `load_adapter`), saving and
  loading the adapter state dict |
| `PEFT_TYPE_TO_PREFIX_MAPPING` | `PeftModel.add_adapter`, transformers' weight renaming in `load_adapter` |

`tests/rewrite/test_rewrite_registration.py` is the contract test that fails loudly when a peft upgrade changes this.
"""

from __future__ import annotations

import enum

PREFIX = "gradiend_"
"""Prefix of every adapter tensor name (`gradiend_values`, `gradiend_index`), unique among peft methods."""

_TABLES = ("PEFT_TYPE_TO_CONFIG_MAPPING", "PEFT_TYPE_TO_TUNER_MAPPING", "PEFT_TYPE_TO_PREFIX_MAPPING")


class GradiendPeftType(enum.StrEnum):
    """
    The `peft_type` of GRADIEND adapters. Like `peft.PeftType`, a `str` enum whose name equals its value, so the
    string `"GRADIEND"` read from `adapter_config.json` finds the same entries in peft's tables as the member.
    """

    GRADIEND = "GRADIEND"


def register_gradiend_tuner(config_cls: type, model_cls: type) -> None:
    """
    Make peft resolve `peft_type="GRADIEND"` to `config_cls` and `model_cls` (`hf_gradiend.rewrite` passes
    [`GradiendAdapterConfig`] and [`GradiendAdapterModel`] when it is imported).

    Idempotent. Raises `ImportError` when the installed peft lacks one of the tables (an incompatible peft release),
    and `RuntimeError` when another package already registered a different method under `"GRADIEND"`.

    Args:
        config_cls (`type`): The adapter's `PeftConfig` subclass.
        model_cls (`type`): The adapter's `BaseTuner` subclass.

    Example:

    ```python
    >>> from hf_gradiend.rewrite import GradiendAdapterConfig, GradiendAdapterModel, register_gradiend_tuner
    >>> register_gradiend_tuner(GradiendAdapterConfig, GradiendAdapterModel)  # already done on import
    ```
    """
    import peft.mapping as mapping

    values = dict(zip(_TABLES, (config_cls, model_cls, PREFIX), strict=True))
    missing = [name for name in _TABLES if not isinstance(getattr(mapping, name, None), dict)]
    if missing:
        raise ImportError(
            f"peft {_peft_version()} has no {', '.join(missing)} in peft.mapping, so the GRADIEND adapter cannot be "
            "registered. Install a peft release that hf_gradiend supports (see pyproject.toml)."
        )
    key = GradiendPeftType.GRADIEND
    for name, value in values.items():
        present = getattr(mapping, name).get(key)
        if present is not None and present != value:
            raise RuntimeError(
                f"peft.mapping.{name} already maps {key.value!r} to {present!r}; another package registered a "
                "method with the same name. Import only one of them."
            )
    prefix_owners = [t for t, p in mapping.PEFT_TYPE_TO_PREFIX_MAPPING.items() if p == PREFIX and t != key]
    if prefix_owners:
        raise RuntimeError(f"The adapter prefix {PREFIX!r} is already used by {prefix_owners[0]!r} in peft.")
    for name, value in values.items():
        getattr(mapping, name)[key] = value


def _peft_version() -> str:
    import peft

    return getattr(peft, "__version__", "unknown")
