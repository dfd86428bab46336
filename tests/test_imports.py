"""The package's layers point one way: no import cycles, and the library never imports the lesson kit.

The graph is read from the source (every ``import`` and ``from ... import`` inside ``effnet_lab``,
at the top of a module or inside a function), so a lazy import cannot hide an edge.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "effnet_lab"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, known: set[str]) -> set[str]:
    """The package modules ``path`` imports (``from . import x`` counts as importing ``pkg.x``)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found |= {f"{source}.{a.name}" for a in node.names}
    # a module imports its parent packages too, but ``effnet_lab/__init__`` imports only config and cost
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(p) for p in paths}
    return {module_name(p): imports(p, known) for p in paths}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}   # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_library_never_imports_the_lesson_kit():
    edges = graph()
    core = [m for m in edges if not m.startswith("effnet_lab.lessons")]
    offenders = {m: sorted(t for t in edges[m] if t.startswith("effnet_lab.lessons")) for m in core}
    assert not {m: t for m, t in offenders.items() if t}, offenders


def test_the_lowest_layers_import_nothing_heavy():
    """checks, config, cost and runtime are what a torch-free environment (and ``import effnet_lab``) reads."""
    heavy = ("torch", "matplotlib", "ipywidgets")
    for name in ("checks", "config", "cost", "runtime"):
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        top = [a.name for node in tree.body if isinstance(node, ast.Import) for a in node.names]
        top += [node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module]
        assert not [m for m in top if m.split(".")[0] in heavy], (name, top)


def test_the_state_layer_of_the_lesson_kit_needs_neither_matplotlib_nor_ipywidgets():
    import subprocess

    code = ("import sys; from effnet_lab.lessons import states, tables; "
            "print('matplotlib' in sys.modules, 'ipywidgets' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"], done.stdout


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
