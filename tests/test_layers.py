"""The import graph looks only down: cascade/ (library) <- eval/ and service/ <- the CLI (service/cli/).

Nodes are cascade's top-level modules and sub-packages; eval/ and service/; and the tools that sit on
top of a layer and are imported by nothing in it: each layer's benchmarks (cascade/bench/,
eval/bench/, service/bench/) and the CLI. An edge is any import between two nodes (type-only imports
included). Run this file as a script to print the layers: `python tests/test_layers.py`.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cascade", "eval", "service")
MAX_LAYERS = 10


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


FILES = {_module(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _resolve(name: str) -> str | None:
    while name and name not in FILES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    path = FILES[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        for name in names:
            target = _resolve(name) if name.split(".")[0] in PACKAGES else None
            if target and target != module and not module.startswith(target + "."):
                found.add(target)
    return found


EDGES = {m: _imports(m) for m in FILES}


def node(module: str) -> str:
    """cascade.<x> for cascade's modules and sub-packages; <top>.bench and service.cli; else the top."""
    parts = module.split(".")
    if parts[0] == "cascade" or parts[1:2] == ["bench"] or parts[:2] == ["service", "cli"]:
        return ".".join(parts[:2])
    return parts[0]


def node_edges() -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for a, targets in EDGES.items():
        for b in targets:
            if node(a) != node(b) and not (FILES[b].name == "__init__.py" and node(a).startswith(node(b))):
                out[node(a)].add(node(b))
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            visit(v)
    return found


def layers() -> dict[str, int]:
    """Each node one layer above everything it imports (an edge back into a circle is not followed)."""
    graph = node_edges()
    visiting: set[str] = set()

    @cache
    def layer(v: str) -> int:
        visiting.add(v)
        below = [layer(w) for w in graph.get(v, ()) if w not in visiting]
        visiting.discard(v)
        return 1 + max(below, default=-1)

    return {v: layer(v) for v in sorted({node(m) for m in FILES})}


def test_no_module_imports_itself_back() -> None:
    assert cycles(EDGES) == []


def test_no_circle_between_layers() -> None:
    assert cycles(node_edges()) == []


def test_library_imports_neither_harness_nor_service() -> None:
    library = [m for m in EDGES if m.split(".")[0] == "cascade"]
    up = sorted((a, b) for a in library for b in EDGES[a] if b.split(".")[0] != "cascade")
    assert up == []


def test_service_and_eval_reach_the_llm_stage_only_through_its_facade() -> None:
    reach = sorted(
        (a, b)
        for a, bs in EDGES.items()
        if a.split(".")[0] in ("eval", "service")
        for b in bs
        if b.startswith("cascade.rerank.llm")
    )
    assert reach == []


def test_at_most_ten_layers() -> None:
    assert max(layers().values()) + 1 <= MAX_LAYERS, layers()


if __name__ == "__main__":
    graph = node_edges()
    by_layer = layers()
    n_edges = sum(map(len, graph.values()))
    print(f"{len(by_layer)} nodes, {n_edges} edges, {max(by_layer.values()) + 1} layers")
    for v, n in sorted(by_layer.items(), key=lambda kv: (kv[1], kv[0])):
        print(n, v, "->", ", ".join(sorted(graph.get(v, ()))))
    print("circles:", cycles(EDGES), cycles(graph))
