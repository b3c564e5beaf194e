"""Top-k overlap figures: a Venn diagram for 2–6 directions, a pairwise heatmap for more."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..compare.loading import Directions, resolve_directions
from ..compare.matrix import LabelledMatrix
from ..compare.overlap import OVERLAP_VALUES, overlap_matrix
from ..modeling_gradiend import IMPORTANCE_PARTS
from ._figures import check_output_path, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PLOT_KINDS = ("auto", "venn", "heatmap")
MAX_VENN = 6
_VALUE_TITLES = {"intersection": "|A ∩ B|", "intersection_frac": "|A ∩ B| / min(|A|, |B|)"}


def plot_topk_overlap(
    models: Directions,
    topk: int | float = 1000,
    part: str = "decoder-weight",
    *,
    kind: str = "auto",
    value: str = "intersection_frac",
    output_path: str | os.PathLike | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
    pretty_labels: Mapping[str, str] | Callable[[str], str] | None = None,
    title: str | None = None,
    colors: Sequence | None = None,
    proportional: bool = False,
    cmap: str = "Blues",
    dpi: int = 150,
) -> tuple[Figure, Path | None]:
    """
    Draw how the directions' top-k base-global coordinates overlap.

    Two to six directions give a Venn diagram with one labelled region per combination of directions (`matplotlib-venn`
    for two or three, `venn` for four to six), more a pairwise heatmap of [`topk_overlap`] values. Needs the `plot`
    extra (`pip install 'hf-gradiend[plot]'`).

    The figure is a plain `matplotlib.figure.Figure`, not registered with `pyplot`: a notebook shows it when it is
    the cell's value; elsewhere pass `output_path` (or call `figure.savefig`).

    Args:
        models (`list` or `dict`): Directions, trainers or paths / Hub ids (see [`topk_sets`]); at least two.
        topk (`int` or `float`, *optional*, defaults to 1000): Top-k size, a count or a fraction of each direction's
            kept coordinates.
        part (`str`, *optional*, defaults to `"decoder-weight"`): Importance used to rank coordinates.
        kind (`str`, *optional*, defaults to `"auto"`): `"venn"` (2–6 directions), `"heatmap"`, or `"auto"` (Venn up
            to six directions, heatmap above).
        value (`str`, *optional*, defaults to `"intersection_frac"`): Heatmap cells: `"intersection_frac"`
            (`|A ∩ B| / min(|A|, |B|)`) or `"intersection"` (counts). Venn regions always show counts.
        output_path (`str` or `os.PathLike`, *optional*): Where to save the figure; the suffix picks the format
            (`.png`, `.pdf`, `.svg`, ...). Parent folders are created. Nothing is written when omitted.
        groups (`dict[str, list[str]]`, *optional*): Heatmap only (with `kind="auto"` it selects the heatmap).
            Group name → direction labels; rows and columns are ordered group by group (ungrouped directions last),
            separated by lines, group names on top.
        pretty_labels (`dict` or callable, *optional*): Display names for labels, e.g. `{"3SG/3PL": "3SG ↔ 3PL"}` or
            `str.upper`; labels a dict does not cover are shown as they are.
        title (`str`, *optional*): Figure title; defaults to `"Top-<k> overlap (<part>)"`.
        colors (`list`, *optional*): Venn set colours (any matplotlib colour), one per direction.
        proportional (`bool`, *optional*, defaults to `False`): For two or three directions, draw region areas in
            proportion to their sizes. Regions of size 0 then vanish (identical sets draw as one circle), so the
            default keeps every region the same size.
        cmap (`str`, *optional*, defaults to `"Blues"`): Heatmap colour map.
        dpi (`int`, *optional*, defaults to 150): Resolution of raster output files.

    Returns:
        `(figure, path)`: the figure and the path written (`None` without `output_path`).

    Example:

    ```python
    >>> from hf_gradiend.plotting import plot_topk_overlap
    >>> figure, path = plot_topk_overlap(
    ...     ["runs/3sg_3pl", "runs/1sg_1pl", "runs/2sg_3sg"], topk=1000, output_path="plots/overlap.png"
    ... )
    ```
    """
    if kind not in PLOT_KINDS:
        raise ValueError(f"kind={kind!r} is not supported; choose one of {', '.join(PLOT_KINDS)}.")
    if value not in OVERLAP_VALUES:
        raise ValueError(f"value={value!r} is not supported; choose one of {', '.join(OVERLAP_VALUES)}.")
    if part not in IMPORTANCE_PARTS:
        raise ValueError(f"part={part!r} is not one of {', '.join(IMPORTANCE_PARTS)}.")
    _require_matplotlib()
    path = check_output_path(output_path)
    if groups is not None and kind == "venn":
        raise ValueError("groups= orders the rows of a heatmap; drop it or pass kind='heatmap'.")

    from ..compare.topk import topk_coordinates

    directions = resolve_directions(models)
    count = len(directions)
    if count < 2:
        raise ValueError(f"An overlap plot needs at least two directions, got {count}.")
    if kind == "auto":
        kind = "venn" if count <= MAX_VENN and groups is None else "heatmap"
    if kind == "venn" and count > MAX_VENN:
        raise ValueError(f"A Venn diagram shows at most {MAX_VENN} directions, got {count}; pass kind='heatmap'.")
    if colors is not None and len(colors) < count:
        raise ValueError(f"Got {len(colors)} colors for {count} directions; pass one per direction.")
    order = _group_order(list(directions), groups)
    display = _display_labels(list(directions), pretty_labels)

    coordinates = topk_coordinates(directions, topk, part)
    title = title if title is not None else f"Top-{topk:g} overlap ({part})"
    if kind == "venn":
        sets = {display[label]: set(coords.tolist()) for label, coords in coordinates.items()}
        figure = _venn_figure(sets, title, colors, proportional)
    else:
        matrix = overlap_matrix({label: coordinates[label] for label, _ in order}, value, part=part, k=topk)
        figure = _heatmap_figure(matrix, display, order, title, cmap)
    if path is not None:
        save_figure(figure, path, dpi)
    return figure, path


# ------------------------------------------------------------------------------------------------------------ venn
def _venn_figure(sets: dict[str, set[int]], title: str, colors: Sequence | None, proportional: bool) -> Figure:
    from matplotlib.figure import Figure

    count = len(sets)
    colors = list(colors[:count]) if colors is not None else [f"C{i}" for i in range(count)]
    labels = list(sets)
    if count <= 3:
        from matplotlib_venn import venn2, venn3
        from matplotlib_venn.layout import venn2 as layout2
        from matplotlib_venn.layout import venn3 as layout3

        figure = Figure(figsize=(6.5, 5.5), layout="constrained")
        ax = figure.add_subplot()
        draw, layouts = (venn2, layout2) if count == 2 else (venn3, layout3)
        layout = None if proportional else layouts.DefaultLayoutAlgorithm(fixed_subset_sizes=(1,) * (2**count - 1))
        diagram = draw(
            tuple(sets.values()), set_labels=tuple(labels), set_colors=tuple(colors), alpha=0.45, ax=ax,
            layout_algorithm=layout,
        )
        for text in diagram.set_labels or ():
            if text is not None:
                text.set_fontsize(11)
        for text in diagram.subset_labels or ():
            if text is not None:
                text.set_fontsize(10)
    else:
        from matplotlib.patches import Patch
        from venn import venn

        figure = Figure(figsize=(10, 7.5), layout="constrained")
        ax = figure.add_subplot()
        venn(sets, cmap=colors, alpha=0.35, fontsize=11 if count < 6 else 8, legend_loc=None, ax=ax)
        handles = [Patch(facecolor=c, alpha=0.5, edgecolor="0.3", label=label) for c, label in zip(
            colors, labels, strict=True
        )]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=11)
    ax.set_title(title)
    return figure


# --------------------------------------------------------------------------------------------------------- heatmap
def _heatmap_figure(
    matrix: LabelledMatrix, display: dict[str, str], order: list[tuple[str, str | None]], title: str, cmap: str
) -> Figure:
    import matplotlib
    import numpy
    from matplotlib.figure import Figure

    count = len(matrix)
    values = matrix.values.double().numpy()
    fractions = matrix.measure == "intersection_frac"
    # The diagonal (a set with itself: 1, or the set size) is drawn grey so the colours show the pairs only.
    shown = values.copy()
    numpy.fill_diagonal(shown, numpy.nan)
    off_diagonal = shown[~numpy.isnan(shown)]
    vmax = 1.0 if fractions else max(float(off_diagonal.max()), 1.0)
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="0.9")
    side = max(5.0, 0.55 * count + 2.5)
    figure = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = figure.add_subplot()
    image = ax.imshow(shown, cmap=colormap, vmin=0.0, vmax=vmax)
    colorbar = figure.colorbar(image, ax=ax, shrink=0.8)
    colorbar.set_label(_VALUE_TITLES[matrix.measure])

    names = [display[label] for label in matrix.labels]
    ax.set_xticks(range(count), names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(count), names)
    ax.tick_params(length=0)
    if count <= 25:
        for i in range(count):
            for j in range(count):
                cell = values[i, j]
                text = f"{cell:.2f}" if fractions else f"{int(cell)}"
                if i == j:
                    color = "0.35"
                else:
                    red, green, blue, _ = colormap(min(cell / vmax, 1.0))
                    color = "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color=color)

    group_names = [group for _, group in order]
    if any(group is not None for group in group_names):
        starts = [i for i in range(count) if i == 0 or group_names[i] != group_names[i - 1]]
        for start in starts[1:]:
            ax.axhline(start - 0.5, color="black", linewidth=1.5)
            ax.axvline(start - 0.5, color="black", linewidth=1.5)
        ends = starts[1:] + [count]
        top = ax.secondary_xaxis("top")
        top.set_xticks(
            [(s + e - 1) / 2 for s, e in zip(starts, ends, strict=True)],
            [group_names[s] or "" for s in starts],
        )
        top.tick_params(length=0)
        ax.set_title(title, pad=18)
    else:
        ax.set_title(title)
    return figure


# ------------------------------------------------------------------------------------------------------ internals
def _group_order(labels: list[str], groups: Mapping[str, Sequence[str]] | None) -> list[tuple[str, str | None]]:
    """`(label, group)` pairs in display order: group by group, then the ungrouped labels in input order."""
    if groups is None:
        return [(label, None) for label in labels]
    if not isinstance(groups, Mapping):
        raise TypeError(f"groups must be a dict of group name → labels, not {type(groups).__name__}.")
    order, seen = [], {}
    for group, members in groups.items():
        if isinstance(members, str):
            raise TypeError(f"groups[{group!r}] must be a list of labels, not the string {members!r}.")
        for label in members:
            if label not in labels:
                raise ValueError(f"groups[{group!r}] names {label!r}, which is not a direction label; labels are "
                                 f"{labels}.")
            if label in seen:
                raise ValueError(f"Label {label!r} is in groups {seen[label]!r} and {group!r}; put it in one.")
            seen[label] = group
            order.append((label, str(group)))
    order.extend((label, None) for label in labels if label not in seen)
    return order


def _display_labels(
    labels: list[str], pretty_labels: Mapping[str, str] | Callable[[str], str] | None
) -> dict[str, str]:
    if pretty_labels is None:
        display = {label: label for label in labels}
    elif isinstance(pretty_labels, Mapping):
        display = {label: str(pretty_labels.get(label, label)) for label in labels}
    elif callable(pretty_labels):
        display = {label: str(pretty_labels(label)) for label in labels}
    else:
        raise TypeError(f"pretty_labels must be a dict or a callable, not {type(pretty_labels).__name__}.")
    if len(set(display.values())) != len(display):
        raise ValueError(f"pretty_labels gives two directions the same name: {display}; make the names distinct.")
    return display


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
        import matplotlib_venn  # noqa: F401
        import venn  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"Overlap plots need the plot extra ({error.name} is missing): pip install 'hf-gradiend[plot]'."
        ) from error
