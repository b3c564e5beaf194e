"""Figures: training convergence, encoder distributions, decoder grid, top-k overlap. Needs the `plot` extra."""
