"""Turn what a user hands to the comparison functions (directions, trainers, paths, Hub ids) into labelled models."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import IncompatibleDirectionsError
from ..modeling_gradiend import GradiendModel

DirectionSource = GradiendModel | str | os.PathLike | Any
"""A [`GradiendModel`], anything with a `get_model()` method returning one (a trainer), or a path / Hub id."""

Directions = Mapping[str, DirectionSource] | Iterable[DirectionSource]
"""A list of direction sources (labelled automatically) or a dict of label → source."""


def resolve_directions(models: Directions) -> dict[str, GradiendModel]:
    """
    Resolve direction sources into labelled [`GradiendModel`]s that share one base model.

    Labels are the keys when `models` is a dict. Otherwise a direction is labelled by its feature classes joined with
    a slash (`"3SG/3PL"`), or, when its config records none, by the name of the folder or Hub repo it was loaded
    from (`"direction_<i>"` as a last resort). Repeated labels get a suffix: `"3SG/3PL"`, `"3SG/3PL #2"`, ...

    Args:
        models (`list` or `dict`):
            Directions to compare: [`GradiendModel`]s, trainers (anything with `get_model()`), or paths / Hub ids of
            saved directions (loaded with `AutoModel.from_pretrained`). A dict maps labels to such sources.

    Returns:
        `dict[str, GradiendModel]` in input order.

    Raises:
        [`IncompatibleDirectionsError`]: When two directions were learned on different base models or parameter
            selections (their base-global coordinates mean different weights).

    Example:

    ```python
    >>> directions = resolve_directions({"number": "runs/number", "gender": trainer})
    >>> list(directions)
    ['number', 'gender']
    ```
    """
    if isinstance(models, (str, os.PathLike, GradiendModel)) or _is_trainer(models):
        raise TypeError(
            f"Pass a list or dict of directions, not a single {type(models).__name__}; "
            "e.g. [direction_a, direction_b]."
        )
    if isinstance(models, Mapping):
        names: list[str | None] = [str(name) for name in models]
        sources = list(models.values())
    elif isinstance(models, Iterable):
        sources = list(models)
        names = [None] * len(sources)
    else:
        raise TypeError(f"models must be a list or dict of directions, not {type(models).__name__}.")
    if not sources:
        raise ValueError("No directions to compare; pass at least one GradiendModel, trainer or path.")
    loading = any(isinstance(s, (str, os.PathLike)) for s in sources)
    directions = [as_direction(s) for s in tqdm(sources, desc="Loading directions", disable=not loading)]
    labels = [
        name if name is not None else default_label(direction, source, index)
        for index, (name, direction, source) in enumerate(zip(names, directions, sources, strict=True))
    ]
    resolved = dict(zip(_deduplicate(labels), directions, strict=True))
    check_same_base(resolved)
    return resolved


def as_direction(source: DirectionSource) -> GradiendModel:
    """
    One direction source as a [`GradiendModel`].

    Args:
        source: A [`GradiendModel`], a trainer (anything with `get_model()`), or a path / Hub id of a saved direction.
    """
    if isinstance(source, GradiendModel):
        return source
    if isinstance(source, (str, os.PathLike)):
        from transformers import AutoModel

        name = os.path.expanduser(os.fspath(source))
        if not os.path.exists(name) and (not isinstance(source, str) or _looks_like_path(name)):
            raise ValueError(f"No saved direction at {name!r}: the folder does not exist.")
        try:
            model = AutoModel.from_pretrained(name)
        except (OSError, ValueError) as error:  # missing files, unknown model type, bad repo id
            raise ValueError(
                f"Could not load a GRADIEND direction from {name!r}: {str(error).rstrip('.')}. Pass the folder "
                "written by save_pretrained or a Hub repo id of a saved direction."
            ) from error
        if not isinstance(model, GradiendModel):
            raise TypeError(
                f"{name!r} holds a {type(model).__name__}, not a GRADIEND direction "
                "(config.model_type must be 'gradiend')."
            )
        return model
    if _is_trainer(source):
        model = source.get_model()
        if not isinstance(model, GradiendModel):
            raise TypeError(
                f"{type(source).__name__}.get_model() returned a {type(model).__name__}, not a GradiendModel."
            )
        return model
    raise TypeError(
        f"Cannot compare a {type(source).__name__}; pass GradiendModels, trainers (with get_model()), or paths / Hub "
        "ids of saved directions."
    )


def default_label(direction: GradiendModel, source: DirectionSource = None, index: int = 0) -> str:
    """The label of a direction without an explicit name: its feature classes joined by `/`, else its source name."""
    classes = direction.config.feature_classes
    if classes:
        return "/".join(str(c) for c in classes)
    if isinstance(source, (str, os.PathLike)) and Path(os.fspath(source)).name:
        return Path(os.fspath(source)).name
    return f"direction_{index}"


def check_same_base(directions: Mapping[str, GradiendModel]) -> None:
    """
    Refuse directions whose base-global coordinates do not refer to the same weights.

    Two directions compare when their configs record the same `param_fingerprint` (names and shapes of the selected
    base parameters) and, where both record one, the same `base_model_name_or_path`.

    Raises:
        [`IncompatibleDirectionsError`]: Naming both directions and both bases.
    """
    items = list(directions.items())
    if len(items) < 2:
        return
    for label, direction in items:
        if not direction.config.param_fingerprint:
            raise IncompatibleDirectionsError(
                f"Direction {label!r} records no parameter map (config.param_fingerprint), so its coordinates cannot "
                "be matched to another direction's. Create directions with GradiendModel.for_base_model(...) or a "
                "GradiendTrainer."
            )
    first_label, first = items[0]
    for label, direction in items[1:]:
        a, b = first.config, direction.config
        if a.param_fingerprint != b.param_fingerprint:
            raise IncompatibleDirectionsError(
                f"Directions {first_label!r} and {label!r} cover different base weights: {first_label!r} was learned "
                f"on {_base_name(a)} (parameter fingerprint {a.param_fingerprint}), {label!r} on {_base_name(b)} "
                f"(fingerprint {b.param_fingerprint}). Top-k coordinates only compare between directions of the same "
                "base model and parameter selection."
            )
        name_a, name_b = a.base_model_name_or_path, b.base_model_name_or_path
        if name_a and name_b and name_a != name_b:
            raise IncompatibleDirectionsError(
                f"Directions {first_label!r} and {label!r} were learned on different base models: {name_a!r} and "
                f"{name_b!r}. If both are the same model (say a Hub id and a local copy), set "
                "config.base_model_name_or_path of one to the other's value before comparing."
            )


def _base_name(config) -> str:
    name = config.base_model_name_or_path
    architecture = config.base_model_architecture
    if name and architecture:
        return f"{name!r} ({architecture})"
    return repr(name) if name else (architecture or "an unnamed base model")


def _looks_like_path(name: str) -> bool:
    """Whether a string is meant as a local path rather than a Hub id (`org/name`)."""
    return os.path.isabs(name) or name.startswith(("./", "../", "~", ".\\")) or name.count("/") > 1 or "\\" in name


def _is_trainer(obj: Any) -> bool:
    return not isinstance(obj, GradiendModel) and callable(getattr(obj, "get_model", None))


def _deduplicate(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    taken = set(labels)
    result = []
    for label in labels:
        count = seen.get(label, 0) + 1
        seen[label] = count
        candidate = label if count == 1 else f"{label} #{count}"
        while count > 1 and candidate in taken:
            count += 1
            seen[label] = count
            candidate = f"{label} #{count}"
        taken.add(candidate)
        result.append(candidate)
    return result
