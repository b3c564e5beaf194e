"""Where a GRADIEND adapter attaches: the modules that hold each covered parameter, tied copies included."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from peft.tuners.tuners_utils import BaseTunerLayer
from torch import nn

from .config import GradiendAdapterConfig


@dataclass
class InjectionPlan:
    """
    The modules a GRADIEND adapter wraps.

    Args:
        owners (`dict[str, list[tuple[str, int]]]`):
            Module path → `(attribute, index into config.param_names)` for each covered parameter it holds; the owner
            stores the adapter's values and writes the delta into the tensor when merging.
        tied (`dict[str, dict[str, tuple[str, str]]]`):
            Module path → `{attribute: (owner path, owner attribute)}` for covered tensors it shares with an owner
            (tied input/output embeddings): it reads the owner's delta in its forward and never writes the tensor.
    """

    owners: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    tied: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)


def plan_injection(model: nn.Module, config: GradiendAdapterConfig) -> InjectionPlan:
    """
    Check `model` against the covered parameters of `config` and decide which modules to wrap.

    A covered parameter is wrapped where it is used: in every leaf module that holds the tensor. The first of them
    (the module named by the parameter, when it is a leaf) owns the adapter values; the others are tied copies, e.g.
    `lm_head` when `model.embed_tokens.weight` is covered and the embeddings are tied, so that the adapter changes
    both uses exactly like adding the delta to the one shared tensor does. Parameters with no kept coordinate get no
    module at all.

    Raises:
        [`ParameterMismatchError`]: `model` lacks a covered parameter or has it in another shape.
        `ValueError`: Two covered names are one tensor, a covered parameter sits on the root module, or a wrapped
            module contains another wrapped module.
    """
    modules = dict(_logical_modules(model))
    named, holders = {}, {}
    for path, module in modules.items():
        for attr, parameter in module.named_parameters(recurse=False):
            named[f"{path}.{attr}" if path else attr] = parameter
            holders.setdefault(id(parameter), []).append((path, attr))
    config.selection.check(_ParameterView(named))

    plan, seen = InjectionPlan(), {}
    counts = config.coordinate_counts or config.selection.numels
    for index, name in enumerate(config.param_names):
        tensor = named[name]
        if id(tensor) in seen:
            raise ValueError(
                f"The covered parameters {seen[id(tensor)]!r} and {name!r} are the same (tied) tensor in "
                f"{type(model).__name__}; a direction must cover a tensor once. Drop one of them from the selection."
            )
        seen[id(tensor)] = name
        path, _, attr = name.rpartition(".")
        if not path:
            raise ValueError(
                f"The covered parameter {name!r} sits on the root module, which an adapter cannot wrap. Exclude it."
            )
        if counts[index] == 0:
            continue
        leaves = [(p, a) for p, a in holders[id(tensor)] if _is_leaf(modules[p])]
        wrapped = leaves or [(path, attr)]
        owner = (path, attr) if (path, attr) in wrapped else wrapped[0]
        plan.owners.setdefault(owner[0], []).append((owner[1], index))
        for alias in wrapped:
            if alias != owner:
                plan.tied.setdefault(alias[0], {})[alias[1]] = owner
    _check_not_nested(set(plan.owners) | set(plan.tied), plan)
    return plan


def _logical_modules(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """`(path, module)` of the base model as if no adapter were attached: tuner layers stand for their base layers."""
    wrapped: set[str] = set()
    for path, module in model.named_modules():
        if _under(path, wrapped):
            continue
        if isinstance(module, BaseTunerLayer):
            wrapped.add(path)
            yield path, module.get_base_layer()
        else:
            yield path, module


def _under(path: str, prefixes: set[str]) -> bool:
    while "." in path:
        path = path.rpartition(".")[0]
        if path in prefixes:
            return True
    return False


def _is_leaf(module: nn.Module) -> bool:
    return next(module.children(), None) is None


def _check_not_nested(paths: set[str], plan: InjectionPlan) -> None:
    for path in paths:
        parent = path
        while "." in parent:
            parent = parent.rpartition(".")[0]
            if parent in paths:
                covered = [a for a, _ in plan.owners.get(parent, [])] + list(plan.tied.get(parent, {}))
                raise ValueError(
                    f"The adapter would wrap both {parent!r} (for its parameter(s) {covered}) and {path!r} inside it, "
                    "which peft cannot nest. Exclude the parameters of one of the two modules from the direction."
                )


class _ParameterView:
    """Just enough of a module for [`ParameterSelection.check`]: its parameters under their base names."""

    def __init__(self, named: dict[str, nn.Parameter]):
        self._named = named

    def named_parameters(self, remove_duplicate: bool = False) -> Iterator[tuple[str, nn.Parameter]]:
        return iter(self._named.items())
