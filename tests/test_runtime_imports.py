"""Fast tier: the runtime package's modules import each other in one direction only (no import cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

from projects import ROOT

PACKAGE = ROOT / "common" / "runtime"


def module_name(path: Path) -> str:
    """`common/runtime/mlops/factory/cli.py` -> `mlops.factory.cli` (a package is its `__init__`)."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, modules: set[str]) -> set[str]:
    """The runtime modules a module imports, at its top or inside a function alike."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from mlops.factory import fleet` imports the module mlops.factory.fleet
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {name if name in modules else node.module for name in names}
    return found & modules


def import_graph() -> dict[str, set[str]]:
    """Each runtime module and the runtime modules it imports."""
    files = {module_name(path): path for path in (PACKAGE / "mlops").rglob("*.py")}
    return {name: imported(path, set(files)) - {name} for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan): each is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_inside_functions_and_of_submodules() -> None:
    graph = import_graph()
    assert "mlops.factory.aml.commands" in graph["mlops.factory.cli"]  # imported inside parse_args
    assert "mlops.factory.fleet" in graph["mlops.factory.cli"]  # `from mlops.factory import fleet`


def test_the_runtime_package_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_a_cycle_is_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
