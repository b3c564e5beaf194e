"""Compare directions: top-k coordinate sets, their overlap, and similarity of importance vectors."""

from .loading import as_direction, check_same_base, resolve_directions
from .matrix import LabelledMatrix
from .overlap import OVERLAP_VALUES, overlap_matrix, topk_overlap
from .similarity import SIMILARITY_MEASURES, similarity_matrix
from .topk import topk_coordinates, topk_sets

__all__ = [
    "OVERLAP_VALUES",
    "SIMILARITY_MEASURES",
    "LabelledMatrix",
    "as_direction",
    "check_same_base",
    "overlap_matrix",
    "resolve_directions",
    "similarity_matrix",
    "topk_coordinates",
    "topk_overlap",
    "topk_sets",
]
