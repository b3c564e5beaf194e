"""Saving figures: atomically, so a failed save leaves neither a file nor new folders behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def save_figure(figure: Figure, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Write `figure` to `path` (format from the suffix) through a temporary file in the same folder."""
    path = Path(path)
    missing = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(handle)
    try:
        figure.savefig(temporary, dpi=dpi, format=path.suffix.lstrip(".").lower() or "png")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        for folder in missing:
            if folder.exists() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return path
