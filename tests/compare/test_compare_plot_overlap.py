"""Venn (2–6 directions) and heatmap (more) figures written to PNG; bad inputs write nothing."""

from __future__ import annotations

import itertools

import pytest
import torch

pytest.importorskip("matplotlib")
pytest.importorskip("matplotlib_venn")
pytest.importorskip("venn")

from hf_gradiend.errors import IncompatibleDirectionsError  # noqa: E402
from hf_gradiend.gradients import select_parameters  # noqa: E402
from hf_gradiend.plotting.overlap import plot_topk_overlap  # noqa: E402

CLASSES = ["1SG", "1PL", "2SGPL", "3SG", "3PL"]
PAIRS = list(itertools.combinations(CLASSES, 2))  # 10 directions


@pytest.fixture
def suite(make_direction):
    """Ten directions, one per class pair, each with 12 top coordinates drawn from 0..39."""
    generator = torch.Generator().manual_seed(0)
    return [
        make_direction(torch.randperm(40, generator=generator)[:12].tolist(), list(pair), seed=i)
        for i, pair in enumerate(PAIRS)
    ]


def _png_ok(path):
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(path)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300
    assert float(pixels[..., :3].std()) > 0.05  # not a blank canvas


def _region_counts(sets):
    """Size of every Venn region (elements in exactly the sets of a combination), all 2^n - 1 of them."""
    labels = list(sets)
    union = set().union(*sets.values())
    counts = []
    for size in range(1, len(labels) + 1):
        for combo in itertools.combinations(labels, size):
            inside = set.intersection(*(sets[label] for label in combo))
            outside = set().union(*(sets[label] for label in labels if label not in combo))
            counts.append(len((inside & union) - outside))
    return counts


def _texts(figure):
    return [t.get_text() for t in figure.axes[0].texts if t.get_text()]


def test_venn_two_directions(make_direction, tmp_path):
    a = make_direction(list(range(10)), ["3SG", "3PL"])
    b = make_direction(list(range(6, 16)), ["1SG", "1PL"], seed=1)
    figure, path = plot_topk_overlap([a, b], topk=10, output_path=tmp_path / "venn2.png")
    assert path == tmp_path / "venn2.png"
    _png_ok(path)
    texts = _texts(figure)
    assert sorted(t for t in texts if t.isdigit()) == ["4", "6", "6"]  # only A, both, only B
    assert {"3SG/3PL", "1SG/1PL"} <= set(texts)
    assert figure.axes[0].get_title() == "Top-10 overlap (decoder-weight)"


def test_venn_three_directions(suite, tmp_path):
    from hf_gradiend.compare import topk_sets

    figure, path = plot_topk_overlap(suite[:3], topk=12, output_path=tmp_path / "plots" / "venn3.png")
    _png_ok(path)
    expected = [str(c) for c in _region_counts(topk_sets(suite[:3], k=12))]
    assert sorted(t for t in _texts(figure) if t.isdigit()) == sorted(expected)  # all 7 regions, zeros included


def test_venn_identical_sets_keep_every_region(make_direction, tmp_path):
    same = [make_direction(list(range(10)), [f"{c}1", f"{c}2"]) for c in "abc"]
    figure, _ = plot_topk_overlap(same, topk=10)
    assert sorted(t for t in _texts(figure) if t.isdigit()) == ["0"] * 6 + ["10"]
    proportional, _ = plot_topk_overlap(same[:2], topk=10, proportional=True)  # areas ∝ sizes: one disc
    assert "10" in _texts(proportional)


@pytest.mark.parametrize("count", [4, 5, 6])
def test_venn_four_to_six_directions(suite, tmp_path, count):
    from hf_gradiend.compare import topk_sets

    figure, path = plot_topk_overlap(suite[:count], topk=12, output_path=tmp_path / f"venn{count}.png")
    _png_ok(path)
    expected = [str(c) for c in _region_counts(topk_sets(suite[:count], k=12))]
    assert sorted(_texts(figure)) == sorted(expected)  # one label per region, zeros included
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == ["/".join(pair) for pair in PAIRS[:count]]


def test_heatmap_above_six(suite, tmp_path):
    from hf_gradiend.compare import topk_overlap

    figure, path = plot_topk_overlap(suite[:7], topk=12, output_path=tmp_path / "heatmap7.png")
    _png_ok(path)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["/".join(pair) for pair in PAIRS[:7]]
    values = topk_overlap(suite[:7], k=12).values
    assert _texts(figure) == [f"{v:.2f}" for v in values.reshape(-1).tolist()]
    assert float(ax.images[0].get_array()[0, 1]) == pytest.approx(float(values[0, 1]))
    assert ax.images[0].get_array().mask[0, 0]  # the diagonal is not coloured


def test_heatmap_groups_pretty_labels_and_counts(suite, tmp_path):
    groups = {"with 3SG": ["2SGPL/3SG", "3SG/3PL"], "with 1SG": ["1SG/1PL", "1SG/3PL"]}
    figure, path = plot_topk_overlap(
        suite, topk=12, value="intersection", groups=groups, pretty_labels=lambda s: s.replace("/", " vs "),
        output_path=tmp_path / "grouped.pdf",
    )
    assert path.read_bytes()[:4] == b"%PDF"
    ax = figure.axes[0]
    shown = [t.get_text() for t in ax.get_xticklabels()]
    assert shown[:4] == ["2SGPL vs 3SG", "3SG vs 3PL", "1SG vs 1PL", "1SG vs 3PL"]
    assert len(shown) == 10 and shown[4:] == ["1SG vs 2SGPL", "1SG vs 3SG", "1PL vs 2SGPL", "1PL vs 3SG", "1PL vs 3PL",
                                              "2SGPL vs 3PL"]  # ungrouped last, in input order
    assert "12" in _texts(figure)  # counts, the diagonal is the set size
    secondary = [c for c in ax.child_axes if c.get_xticklabels()]
    assert [t.get_text() for t in secondary[0].get_xticklabels()][:2] == ["with 3SG", "with 1SG"]


def test_kind_forces_heatmap_and_dict_pretty_labels(suite, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    figure, path = plot_topk_overlap(suite[:3], topk=12, kind="heatmap", pretty_labels={"1SG/1PL": "number"})
    assert path is None and list(tmp_path.iterdir()) == []  # nothing written without output_path
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["number", "1SG/2SGPL", "1SG/3SG"]


def test_failed_save_leaves_nothing(suite, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_topk_overlap(suite[:2], topk=12, output_path=tmp_path / "deep" / "er" / "venn.png")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"kind": "pie"}, ValueError, "kind='pie'"),
        ({"value": "jaccard"}, ValueError, "value='jaccard'"),
        ({"part": "weights"}, ValueError, "part='weights'"),
        ({"output_path": "out/overlap"}, ValueError, "needs a file suffix"),
        ({"output_path": "out/overlap.docx"}, ValueError, "needs a file suffix"),
        ({"kind": "venn", "groups": {"g": ["1SG/1PL"]}}, ValueError, "groups= orders the rows of a heatmap"),
        ({"groups": {"g": ["1SG/9PL"]}}, ValueError, "'1SG/9PL', which is not a direction label"),
        ({"groups": {"g": ["1SG/1PL"], "h": ["1SG/1PL"]}}, ValueError, "is in groups 'g' and 'h'"),
        ({"groups": {"g": "1SG/1PL"}}, TypeError, "must be a list of labels"),
        ({"groups": ["1SG/1PL"]}, TypeError, "groups must be a dict"),
        ({"pretty_labels": lambda s: "same"}, ValueError, "the same name"),
        ({"pretty_labels": 3}, TypeError, "pretty_labels must be a dict or a callable"),
        ({"colors": ["red"]}, ValueError, "Got 1 colors for 3 directions"),
        ({"topk": 0}, ValueError, "k=0"),
    ],
)
def test_bad_arguments_write_nothing(suite, tmp_path, monkeypatch, kwargs, error, match):
    monkeypatch.chdir(tmp_path)
    kwargs.setdefault("output_path", tmp_path / "out" / "overlap.png")
    with pytest.raises(error, match=match):
        plot_topk_overlap(suite[:3], **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_bad_direction_lists_write_nothing(suite, tmp_path, llama):
    from hf_gradiend import GradiendModel

    out = tmp_path / "out" / "overlap.png"
    with pytest.raises(ValueError, match="at least two directions, got 1"):
        plot_topk_overlap(suite[:1], output_path=out)
    with pytest.raises(ValueError, match="at most 6 directions, got 7; pass kind='heatmap'"):
        plot_topk_overlap(suite[:7], kind="venn", output_path=out)
    base = llama[0]
    other = GradiendModel.for_base_model(base, select_parameters(base, ["model.layers.0.self_attn.q_proj.*"]))
    with pytest.raises(IncompatibleDirectionsError, match="cover different base weights"):
        plot_topk_overlap([suite[0], other], output_path=out)
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        plot_topk_overlap(suite[:2], output_path=tmp_path / "folder.png")
    assert [p.name for p in tmp_path.iterdir()] == ["folder.png"] and not any((tmp_path / "folder.png").iterdir())


def test_matplotlib_is_imported_lazily():
    """No module-level import of the plot extra in compare/ or the overlap plot (`import hf_gradiend` stays light)."""
    import ast
    from pathlib import Path

    import hf_gradiend.compare
    import hf_gradiend.plotting.overlap

    files = [*Path(hf_gradiend.compare.__file__).parent.glob("*.py"), Path(hf_gradiend.plotting.overlap.__file__)]
    for file in files:
        for node in ast.parse(file.read_text()).body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            heavy = [n for n in names if n.split(".")[0] in ("matplotlib", "matplotlib_venn", "venn", "pandas")]
            assert not heavy, file
