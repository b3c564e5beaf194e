"""`evaluate` modules shipped with hf_gradiend, loadable offline by path.

```python
>>> import evaluate
>>> import hf_gradiend.metrics
>>> lms = evaluate.load(hf_gradiend.metrics.path("lms"))
>>> lms.compute(texts=["The cat sat on the mat."], model=model, tokenizer=tokenizer)
```

They run the same code as the decoder grid (`hf_gradiend.evaluation`), so any model — a merged rewrite, say — is
scored exactly as the grid scored its point.
"""

from __future__ import annotations

from pathlib import Path

METRICS = ("lms", "target_probability")
"""Names of the shipped modules."""


def path(name: str) -> str:
    """
    The folder of the shipped `evaluate` module `name`, for `evaluate.load(path)`.

    Args:
        name (`str`): `"lms"` (language-modelling score) or `"target_probability"`.

    Returns:
        `str`: An absolute path inside the installed package.
    """
    if name not in METRICS:
        raise ValueError(f"No shipped evaluate module {name!r}; choose one of {', '.join(METRICS)}.")
    return str(Path(__file__).resolve().parent / name)


def load(name: str, **kwargs):
    """`evaluate.load(path(name), **kwargs)`: load a shipped module without the Hub."""
    import evaluate

    return evaluate.load(path(name), **kwargs)


__all__ = ["METRICS", "load", "path"]
