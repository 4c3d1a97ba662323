"""The package's layers, read from its imports: nothing imports upwards, nothing in a circle.

Each top-level package (or module) of ``tagger`` has a rank; a module may
import from its own package or from a package of a lower rank, never from
one of the same or a higher rank. Every import counts, those inside
functions and under ``TYPE_CHECKING`` too: a deferred import that runs back
up is still a tie the layout hides.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tagger"

# Lowest first. Units on one line share a rank and must not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("tagger._version",),  # the version, written once
    ("tagger",),  # the package, which re-exports it
    ("tagger.errors", "tagger.words"),
    ("tagger.logs", "tagger.yamldoc"),
    ("tagger.mimecast", "tagger.state", "tagger.rails"),
    ("tagger.simulator", "tagger.config", "tagger.cluster"),
    ("tagger.rules", "tagger.audit"),
    ("tagger.engine",),
    ("tagger.exitcodes",),
    ("tagger.monitor",),
    ("tagger.service",),
    ("tagger.cli",),
    ("tagger.__main__",),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    """Return the layer unit of a dotted module name: ``tagger`` or ``tagger.<top>``."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _imports(path: Path) -> set[str]:
    """Return every ``tagger`` module that ``path`` imports (names from a package count as it)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "tagger"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "tagger":
                continue
            base = PACKAGE.parent.joinpath(*node.module.split("."))
            for alias in node.names:
                sub = base / alias.name
                is_module = sub.is_dir() or sub.with_suffix(".py").exists()
                found.add(f"{node.module}.{alias.name}" if is_module else node.module)
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in sorted(PACKAGE.rglob("*.py")):
        graph[_module_name(path)] |= _imports(path)
    return graph


def test_every_unit_has_a_layer() -> None:
    units = {_unit(module) for module in _graph()}
    assert units <= set(RANK), f"give these a layer in LAYERS: {sorted(units - set(RANK))}"


def test_no_import_runs_up_or_across_a_layer() -> None:
    wrong = []
    for module, targets in _graph().items():
        here = _unit(module)
        for target in targets:
            there = _unit(target)
            if there != here and RANK[there] >= RANK[here]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_module_import_cycle() -> None:
    graph = _graph()
    modules = set(graph)

    def resolve(name: str) -> str | None:
        # "from tagger.x import y" names a module or a package's __init__.
        return name if name in modules else None

    edges = {m: {t for t in map(resolve, ts) if t and t != m} for m, ts in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("bad", ["tagger.cli", "tagger.service"])
def test_the_check_catches_an_upward_import(bad: str, tmp_path: Path) -> None:
    """The checker itself: an import of a higher layer from a low one is flagged."""
    probe = tmp_path / "probe.py"
    probe.write_text(f"import {bad}\nfrom tagger.engine import cycle\n", encoding="utf-8")
    found = _imports(probe)
    assert found == {bad, "tagger.engine.cycle"}
    assert RANK[_unit(bad)] > RANK[_unit("tagger.state")]
