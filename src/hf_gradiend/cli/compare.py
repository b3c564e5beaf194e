"""`hf-gradiend compare`: top-k overlap of saved directions, as a table and a figure."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .loading import write_json

HELP = "Compare saved directions: top-k overlap table and Venn/heatmap figure."
DESCRIPTION = (
    "Print the pairwise overlap of the directions' top-k base-global coordinates; optionally save it as a table "
    "(.json or .csv) and draw it (a Venn diagram for 2-6 directions, a heatmap above; needs the plot extra). "
    "Directions must share one base model and parameter selection."
)
EXAMPLE = """\
  hf-gradiend compare --directions runs/3sg-3pl runs/1sg-1pl number=runs/number --topk 1000 \\
      --output_path plots/overlap.png --table_path plots/overlap.csv
  hf-gradiend compare --suite runs/pronouns --kind heatmap --output_path plots/pronouns.png"""


@dataclass
class CompareArguments:
    directions: list[str] | None = field(
        default=None, metadata={"help": "Saved directions: folders or Hub ids, optionally labelled as LABEL=PATH."}
    )
    suite: str | None = field(default=None, metadata={"help": "A TrainerSuite folder: compare all its runs."})
    topk: float = field(default=1000, metadata={"help": "Top-k size: a count, or a fraction below 1."})
    part: Literal["decoder-weight", "encoder-weight", "decoder-bias", "decoder-sum"] = field(
        default="decoder-weight", metadata={"help": "Importance used to rank coordinates."}
    )
    value: Literal["intersection_frac", "intersection"] = field(
        default="intersection_frac", metadata={"help": "Table cells: |A∩B| / min(|A|, |B|), or |A∩B|."}
    )
    kind: Literal["auto", "venn", "heatmap"] = field(default="auto", metadata={"help": "Figure kind."})
    output_path: str | None = field(default=None, metadata={"help": "Write the figure here (.png, .pdf, .svg)."})
    table_path: str | None = field(default=None, metadata={"help": "Write the table here (.json or .csv)."})


def argument_types() -> tuple[type, ...]:
    return (CompareArguments,)


def sources(args: CompareArguments) -> dict[str, str] | list[str]:
    """The directions to compare: `--suite`'s runs, then `--directions` (labelled where given as LABEL=PATH)."""
    from ..suites import suite_directions

    if not args.directions and not args.suite:
        raise ValueError("Pass --directions (two or more) or --suite.")
    labelled: dict[str, str] = dict(suite_directions(args.suite)) if args.suite else {}
    plain = []
    for item in args.directions or []:
        label, sep, path = item.partition("=")
        if sep and label and path:
            labelled[label] = path
        else:
            plain.append(item)
    if labelled and plain:
        raise ValueError(f"Label every direction (LABEL=PATH) or none; unlabelled: {plain}.")
    if len(labelled or plain) < 2:
        raise ValueError(f"Comparing needs two or more directions; got {list(labelled) or plain}.")
    return labelled or plain


def topk_value(topk: float) -> int | float:
    """A count as `int` (1000.0 → 1000), a fraction as `float`."""
    if topk <= 0:
        raise ValueError(f"--topk={topk:g} must be positive: a count, or a fraction below 1.")
    return int(topk) if topk >= 1 and float(topk).is_integer() else topk


def run(args: CompareArguments) -> None:
    from ..compare import resolve_directions, topk_overlap

    k = topk_value(args.topk)
    if args.table_path is not None and Path(args.table_path).suffix.lower() not in (".json", ".csv"):
        raise ValueError(f"--table_path={args.table_path!r} must end in .json or .csv.")
    directions = resolve_directions(sources(args))
    matrix = topk_overlap(directions, k, value=args.value, part=args.part)
    print(f"Top-{k:g} overlap ({args.part}, {args.value}):")
    print(matrix)
    if args.output_path is not None:  # drawn first: it refuses what cannot be drawn before anything is written
        from ..plotting.overlap import plot_topk_overlap

        _, figure = plot_topk_overlap(
            directions, k, args.part, kind=args.kind, value=args.value, output_path=args.output_path
        )
        print(f"Figure -> {figure}")
    if args.table_path is not None:
        table = Path(args.table_path)
        if table.suffix.lower() == ".json":
            write_json(table, {"measure": matrix.measure, "part": matrix.part, "k": k, "values": matrix.to_dict()})
        else:
            table.parent.mkdir(parents=True, exist_ok=True)
            with table.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["", *matrix.labels])
                for label, row in zip(matrix.labels, matrix.values.tolist(), strict=True):
                    writer.writerow([label, *row])
        print(f"Table -> {table}")
