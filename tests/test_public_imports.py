"""Every `from hf_gradiend… import …` that users read (README.md, examples/, `>>>` lines of docstrings) names a public
name: the module is `hf_gradiend` or one of its subpackages (never a module file), and the name is in its `__all__`."""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

import hf_gradiend

ROOT = Path(__file__).resolve().parents[1]
_FROM = re.compile(r"from\s+(hf_gradiend[\w.]*)\s+import\s+\(?([\w\s,]+)\)?")


def _from_source(source: str) -> list[tuple[str, str]]:
    tree = ast.parse(source)
    return [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("hf_gradiend")
        for alias in node.names
    ]


def _readme_imports() -> list[tuple[str, str, str]]:
    text = (ROOT / "README.md").read_text()
    found = []
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        found += [("README.md", module, name) for module, name in _from_source(block)]
    return found


def _example_imports() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((ROOT / "examples").glob("*.py")):
        found += [(f"examples/{path.name}", m, n) for m, n in _from_source(path.read_text())]
    return found


def _doctest_imports() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((ROOT / "src" / "hf_gradiend").rglob("*.py")):
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line.startswith(">>>"):
                continue
            for module, names in _FROM.findall(line[3:]):
                rel = path.relative_to(ROOT).as_posix()
                found += [(rel, module, n.strip()) for n in names.split(",") if n.strip()]
    return found


IMPORTS = _readme_imports() + _example_imports() + _doctest_imports()


def test_the_extractors_find_imports():
    places = {place.split("/")[0] for place, _, _ in IMPORTS}
    assert {"README.md", "examples", "src"} <= places


@pytest.mark.parametrize(("place", "module", "name"), sorted(set(IMPORTS)))
def test_user_facing_import_is_public(place, module, name):
    imported = importlib.import_module(module)
    assert Path(imported.__file__).name == "__init__.py", (
        f"{place} imports {name} from the module file {module}; import it from hf_gradiend or a subpackage"
    )
    assert name in getattr(imported, "__all__", ()), f"{place}: {name} is not in {module}.__all__"
    getattr(imported, name)


def test_lazy_names_resolve_and_are_listed():
    for name in hf_gradiend.__all__:
        assert getattr(hf_gradiend, name) is not None, name
    assert hf_gradiend.metrics.__name__ == "hf_gradiend.metrics"


def test_type_checking_block_mirrors_the_lazy_map():
    tree = ast.parse((ROOT / "src" / "hf_gradiend" / "__init__.py").read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))
    typed = {alias.asname or alias.name for stmt in ast.walk(block) if isinstance(stmt, ast.ImportFrom)
             for alias in stmt.names}
    assert typed == set(hf_gradiend._LAZY) | set(hf_gradiend._SUBPACKAGES)


def test_package_is_typed():
    assert (Path(hf_gradiend.__file__).parent / "py.typed").is_file()


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        hf_gradiend.nope  # noqa: B018
    assert "hf_gradiend" in sys.modules


def test_all_lists_the_eager_the_lazy_and_the_subpackages():
    lazy = set(hf_gradiend._LAZY) | set(hf_gradiend._SUBPACKAGES)
    assert lazy <= set(hf_gradiend.__all__)
    eager = set(hf_gradiend.__all__) - lazy
    assert all(name in vars(hf_gradiend) for name in eager)
