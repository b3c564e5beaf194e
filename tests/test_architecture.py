"""The package's layering: imports run one way (ARCHITECTURE.md), with no cycle and no module over its size limit.

The layer table below is the one in ARCHITECTURE.md. A module may import modules of a lower layer, and modules of its
own top-level unit (e.g. `evaluation.policies` → `evaluation.records`) as long as no cycle forms. Imports inside
functions count; imports under `if TYPE_CHECKING:` are type hints only and do not.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hf_gradiend"

# unit (first component under hf_gradiend; "" is the package's own __init__) -> layer
LAYERS: dict[str, int] = {
    "_version": 0,
    "errors": 0,
    "configuration_gradiend": 1,
    "rows": 1,
    "stats": 1,
    "offline_assets": 1,
    "testing_utils": 1,
    "cards": 2,
    "gradients": 3,
    "modeling_gradiend": 4,
    "base_models": 4,
    "data": 5,
    "rewrite": 5,
    "compare": 5,
    "evaluation": 6,
    "plotting": 7,
    "metrics": 7,
    "training": 8,
    "suites": 9,
    "": 10,
    "cli": 11,
}
MAX_MODULE_LINES = 450
MAX_FUNCTION_CODE_LINES = 60


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["hf_gradiend", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def _imports(module: str, path: Path) -> set[str]:
    """The hf_gradiend modules `module` imports, resolved to entries of MODULES."""
    tree = ast.parse(path.read_text())
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    skipped = _type_checking_nodes(tree)
    out = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [target, *(f"{target}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        out.update(c for c in candidates if c in MODULES and c != module)
    return out


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def test_every_unit_has_a_layer():
    missing = sorted({_unit(m) for m in MODULES} - set(LAYERS))
    assert not missing, f"add these to LAYERS here and in ARCHITECTURE.md: {missing}"


def test_imports_only_go_down():
    wrong = []
    for module, targets in GRAPH.items():
        for target in targets:
            source_unit, target_unit = _unit(module), _unit(target)
            if source_unit == target_unit:
                continue
            if LAYERS[target_unit] >= LAYERS[source_unit]:
                wrong.append(f"{module} (layer {LAYERS[source_unit]}) -> {target} (layer {LAYERS[target_unit]})")
    assert not wrong, "imports that do not go down:\n" + "\n".join(sorted(wrong))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle():
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _code_lines(node: ast.AST, lines: list[str], docstrings: set[int]) -> int:
    return sum(
        1
        for i in range(node.lineno, node.end_lineno + 1)
        if i not in docstrings and lines[i - 1].strip() and not lines[i - 1].strip().startswith("#")
    )


def _docstring_lines(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                first.value.value, str
            ):
                out.update(range(first.lineno, first.end_lineno + 1))
    return out


def test_modules_and_functions_stay_small():
    too_long = []
    for module, path in MODULES.items():
        text = path.read_text()
        lines = text.splitlines()
        if len(lines) > MAX_MODULE_LINES:
            too_long.append(f"{module}: {len(lines)} lines")
        tree = ast.parse(text)
        docstrings = _docstring_lines(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                count = _code_lines(node, lines, docstrings)
                if count > MAX_FUNCTION_CODE_LINES:
                    too_long.append(f"{module}.{node.name}: {count} code lines")
    assert not too_long, "\n".join(too_long)


@pytest.mark.parametrize(
    ("imported", "absent"),
    [
        ("hf_gradiend.evaluation, hf_gradiend.rewrite", "hf_gradiend.training"),
        ("hf_gradiend.compare, hf_gradiend.plotting, hf_gradiend.data", "hf_gradiend.training"),
        ("hf_gradiend.metrics", "hf_gradiend.training"),
    ],
)
def test_libraries_do_not_load_the_trainer(imported, absent):
    code = f"import sys, {imported}; print({absent!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
