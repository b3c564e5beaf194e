"""Records of a suite: the files it writes, the identity of its base model and data, and reading a suite folder."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SUITE_FILE = "suite.json"
"""Written in the suite's folder: its runs (name, label, classes, folder), so the folder can be compared later."""

RUN_FILE = "suite_run.json"
"""Written in a run's folder after its direction was saved: what the run was trained from, and its metrics."""

RESULT_INDEPENDENT_ARGS = frozenset({
    # Where things go, how progress is shown and on which device: none of these changes the direction learned.
    "output_dir", "logging_dir", "run_name", "overwrite_output_dir", "project", "trackio_bucket_id",
    "trackio_space_id", "trackio_static_space_id", "gradient_cache", "gradient_cache_dir", "gradient_cache_max_gb",
    "disable_tqdm", "report_to", "logging_strategy", "logging_steps", "logging_first_step", "logging_nan_inf_filter",
    "log_level", "log_level_replica", "log_on_each_node", "push_to_hub", "hub_model_id", "hub_strategy",
    "hub_token", "hub_private_repo", "hub_always_push", "hub_revision", "dataloader_num_workers",
    "dataloader_pin_memory", "dataloader_persistent_workers", "dataloader_prefetch_factor", "save_strategy",
    "save_steps", "save_total_limit", "save_only_model", "save_on_each_node", "per_device_eval_batch_size",
    "skip_memory_metrics", "use_cpu", "local_rank", "resume_from_checkpoint",
})
"""Training arguments left out of a run's record: they change where and how a run is shown, not its direction."""


def suite_directions(suite_dir: str | os.PathLike) -> dict[str, str]:
    """
    Label → folder of the saved directions of a suite folder (read from its `suite.json`), e.g. for
    [`plot_topk_overlap`] or `hf-gradiend compare --suite`.

    Raises:
        `ValueError`: The folder holds no `suite.json`, or a run has no saved direction.
    """
    folder = Path(suite_dir)
    record = read_json(folder / SUITE_FILE)
    if record is None:
        raise ValueError(f"{str(folder)!r} holds no {SUITE_FILE}; pass the output_dir of a TrainerSuite.")
    out = {}
    for run in record.get("runs", []):
        path = folder / run["output_dir"]
        if not (path / "config.json").is_file():
            raise ValueError(f"Suite run {run['name']!r} has no saved direction in {str(path)!r}; train the suite.")
        out[run["label"]] = str(path)
    return out


def base_identity(model: Any) -> str:
    """The base model's name or path (an instance: its `name_or_path`, else a hash of its weights)."""
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model)
    name = getattr(getattr(model, "config", None), "_name_or_path", "") or getattr(model, "name_or_path", "")
    if name:
        return str(name)
    from ..gradients.cache import base_model_fingerprint

    names = [n for n, _ in model.named_parameters(remove_duplicate=False)]
    return f"{type(model).__name__}@{base_model_fingerprint(model, names)}"


def data_fingerprint(parts: Mapping[str, Any]) -> str:
    """Hash of every column of every part (split or class) of the data."""
    digest = hashlib.sha256()
    for name in sorted(parts):
        digest.update(f"\x1e{name}".encode())
        for column in sorted(parts[name].column_names):
            digest.update(f"\x1d{column}".encode())
            digest.update("\x1f".join(map(str, parts[name][column])).encode())
    return digest.hexdigest()[:20]


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`; `None` when the file is missing, unreadable or not an object."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json(path: Path, value: Mapping[str, Any]) -> None:
    """Write JSON atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=2, default=str) + "\n")
    tmp.replace(path)
