"""Figures: training convergence, encoder distributions, decoder grid, top-k overlap. Needs the `plot` extra.

Every plot function takes results (dicts or records) or directions, returns `(figure, path written or None)`, checks
its `output_path` before any work ([`check_output_path`]) and saves atomically ([`save_figure`]). matplotlib is
imported only when a figure is drawn.
"""

from ._figures import check_output_path, save_figure
from .convergence import plot_training_convergence
from .decoder import plot_decoder_grid
from .encoder import plot_encoder_distributions
from .overlap import plot_topk_overlap

__all__ = [
    "check_output_path",
    "plot_decoder_grid",
    "plot_encoder_distributions",
    "plot_topk_overlap",
    "plot_training_convergence",
    "save_figure",
]
