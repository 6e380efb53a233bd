"""What a pipeline's steps import, read (never run) from their source: the libraries a warm process preloads.

Imports only the standard library: the warm process runs it by path.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path


def step_imports(root: Path, modules: Sequence[str]) -> list[str]:
    """What the steps' source imports, read (never run) from the step modules and the local code they import.

    Local code (packages under the repository's src/ or root) is followed, never listed: only libraries are.
    """
    bases = [root / "src", root]
    found: dict[str, None] = {}
    todo = list(modules)
    seen: set[Path] = set()
    while todo:
        name = todo.pop()
        for path, package in _module_files(bases, name):
            if path in seen:
                continue
            seen.add(path)
            for imported in _imports(path, package):
                top = imported.split(".")[0]
                if _is_local(bases, top):
                    todo.append(imported)
                elif top != "__future__":
                    found.setdefault(top)
                    found.setdefault(imported)
    return list(found)


def _is_local(bases: list[Path], top: str) -> bool:
    return any((base / top).is_dir() or (base / f"{top}.py").is_file() for base in bases)


def _module_files(bases: list[Path], name: str) -> list[tuple[Path, str]]:
    """The files that importing `name` runs (each package's __init__ on the way), each with its package."""
    parts = name.split(".")
    for base in bases:
        if not _is_local([base], parts[0]):
            continue
        files = []
        for depth in range(1, len(parts) + 1):
            dotted, where = ".".join(parts[:depth]), base.joinpath(*parts[:depth])
            if (where / "__init__.py").is_file():
                files.append((where / "__init__.py", dotted))
            elif where.with_suffix(".py").is_file():
                files.append((where.with_suffix(".py"), ".".join(parts[: depth - 1])))
        if (base.joinpath(*parts) / "__main__.py").is_file():
            files.append((base.joinpath(*parts) / "__main__.py", name))
        return files
    return []


def _imports(path: Path, package: str) -> list[str]:
    """Absolute names of the modules a file imports anywhere in it (`from x import y` also tries `x.y`)."""
    try:
        tree = ast.parse(path.read_bytes(), str(path))
    except (OSError, SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1] if package else []
                start = ".".join([*parent, node.module] if node.module else parent)
            else:
                start = node.module or ""
            if start:
                names.append(start)
                names += [f"{start}.{alias.name}" for alias in node.names if alias.name != "*"]
    return names
