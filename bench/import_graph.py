"""Import figures behind the layer contracts: package cycles and late imports.

Run from a checkout root: ``.venv/bin/python bench/import_graph.py``. ``lint-imports``
enforces the contracts (pyproject.toml); this prints the figures behind them:

- package cycles: pairs of product packages (``konnectify.platform`` counted apart from
  the rest of ``konnectify``) that import each other, directly or through others, and
  module cycles inside each package (grimp, the graph library import-linter uses);
- late imports: import statements inside a function body (outside migrations).
"""

from __future__ import annotations

import ast
import itertools
import sys
from pathlib import Path

import grimp

PACKAGES = ["konnectify", "connections", "workflows", "stripe_connector"]
NODES = ["konnectify.platform", *PACKAGES]


def members(graph, node: str) -> set[str]:
    """The modules of one layer node (``konnectify`` without its platform)."""
    if node not in graph.modules:  # an older checkout, before konnectify.platform
        return set()
    modules = graph.find_descendants(node) | {node}
    if node == "konnectify":
        modules -= members(graph, "konnectify.platform")
    return modules


def reaches(graph, source: set[str], target: set[str]) -> bool:
    return any(graph.chain_exists(a, b) for a in source for b in target)


def package_cycles(graph) -> list[tuple[str, str]]:
    groups = {node: members(graph, node) for node in NODES}
    return [
        (a, b)
        for a, b in itertools.combinations(NODES, 2)
        if reaches(graph, groups[a], groups[b]) and reaches(graph, groups[b], groups[a])
    ]


def module_cycles(graph) -> list[tuple[str, str]]:
    """Pairs of modules of one package that reach each other."""
    found = []
    for node in NODES:
        for a, b in itertools.combinations(sorted(members(graph, node)), 2):
            if graph.chain_exists(a, b) and graph.chain_exists(b, a):
                found.append((a, b))
    return found


def late_imports(root: Path) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for function in ast.walk(ast.parse(path.read_text())):
                if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found += [
                        f"{path.relative_to(root)}:{node.lineno}"
                        for node in ast.walk(function)
                        if isinstance(node, (ast.Import, ast.ImportFrom))
                    ]
    return found


def main() -> None:
    sys.path.insert(0, str(Path.cwd()))
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles, modules, late = package_cycles(graph), module_cycles(graph), late_imports(Path.cwd())
    print(f"package cycles: {len(cycles)} {cycles}")
    print(f"module cycles: {len(modules)} {modules[:10]}")
    print(f"late imports (inside functions): {len(late)}")
    for where in late:
        print("   ", where)


if __name__ == "__main__":
    main()
