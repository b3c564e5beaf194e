"""Writing result folders whole or not at all, and refusing to replace a different model by accident."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROVENANCE_FILE = "gradiend_rewrite.json"
"""Written next to a rewritten model: what it was rewritten from, so re-running the same rewrite may replace it."""


@contextmanager
def atomic_directory(output_dir: str | os.PathLike) -> Iterator[Path]:
    """
    Yield an empty staging folder next to `output_dir`; when the block succeeds it becomes `output_dir` (replacing an
    existing one), when it raises the staging folder is removed and `output_dir` is left as it was.
    """
    target = Path(output_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-staging-", dir=target.parent))
    try:
        yield staging
        backup = None
        if target.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
            backup.rmdir()
            target.rename(backup)
        try:
            staging.rename(target)
        except BaseException:
            if backup is not None:
                backup.rename(target)
            raise
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_output_dir(output_dir: str | os.PathLike, overwrite: bool, provenance: Mapping[str, Any]) -> None:
    """
    Refuse an `output_dir` that already holds something other than this very rewrite, unless `overwrite=True`.

    An absent or empty folder is fine, and so is one holding a rewrite with the same provenance (re-running the same
    rewrite). Anything else — another rewrite, another model, unrelated files — raises `ValueError`.
    """
    target = Path(output_dir)
    if target.exists() and not target.is_dir():
        raise ValueError(f"output_dir={str(target)!r} is a file; pass a folder path.")
    if overwrite or not target.exists():
        return
    entries = sorted(p.name for p in target.iterdir())
    if not entries:
        return
    existing = _read_provenance(target / PROVENANCE_FILE)
    if existing is not None and _comparable(existing) == _comparable(provenance):
        return
    if existing is not None:
        changed = sorted(k for k in set(existing) | set(provenance) if existing.get(k) != provenance.get(k))
        what = f"a different rewrite (differs in {', '.join(changed)})"
    elif "config.json" in entries:
        what = "a different model"
    else:
        what = f"other files ({', '.join(entries[:5])}{', ...' if len(entries) > 5 else ''})"
    raise ValueError(
        f"output_dir={str(target)!r} already holds {what}. Pass overwrite=True to replace it, or choose another "
        "folder."
    )


def write_provenance(folder: str | os.PathLike, provenance: Mapping[str, Any]) -> None:
    (Path(folder) / PROVENANCE_FILE).write_text(json.dumps(dict(provenance), indent=2, sort_keys=True) + "\n")


def _read_provenance(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _comparable(provenance: Mapping[str, Any]) -> dict:
    return {k: v for k, v in provenance.items() if k != "hf_gradiend_version"}
