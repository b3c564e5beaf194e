"""Output paths and saving: check a path before any work; save atomically (a failed save leaves nothing behind)."""

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


def check_output_path(output_path: str | os.PathLike | None) -> Path | None:
    """
    `output_path` as a `Path` after checking it names a file of a format matplotlib writes (`None` stays `None`).
    Call it before any work, so a bad path fails before anything is computed or written.

    Raises:
        `ValueError`: The suffix names no supported format, or the path is a folder.

    Example:

    ```python
    >>> check_output_path("plots/decoder.png")
    PosixPath('plots/decoder.png')
    ```
    """
    if output_path is None:
        return None
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(output_path)
    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lstrip(".").lower() not in formats:
        raise ValueError(
            f"output_path={os.fspath(output_path)!r} needs a file suffix naming the format, one of "
            f"{', '.join('.' + f for f in sorted(formats))}."
        )
    if path.exists() and path.is_dir():
        raise ValueError(f"output_path={os.fspath(output_path)!r} is a folder; pass a file path such as overlap.png.")
    return path
