"""Exceptions raised by hf_gradiend. Each is also a `ValueError`, so plain `except ValueError` still catches it."""

from __future__ import annotations


class GradiendError(ValueError):
    """Base class of hf_gradiend's errors."""


class ParameterMismatchError(GradiendError):
    """A direction and a base model disagree on the selected parameters (names or shapes)."""


class LatentDimError(GradiendError):
    """An operation that reads `h` as one number met a direction with `latent_dim` other than 1."""


class IncompatibleDirectionsError(GradiendError):
    """Directions learned on different base models or parameter selections are compared coordinate by coordinate."""
