"""The layout's promises (docs/ARCHITECTURE.md): no import cycle between modules, arrows that
point one way (cli -> domains -> store -> ground floor), every SQL statement in store/, and no
module much over 600 lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "retain_cli"
MAX_LINES = 650  # "about 600": a module past this holds two ideas

# Floors, lowest first. A module may import from its own floor or a lower one, never a higher.
GROUND = {"errors", "money", "timeutil", "secrets", "resources", "csvsafe", "__init__", "__main__"}
FLOORS = {
    "ground": 0,
    "store": 1,
    "transports": 2,
    "settings": 2,
    "imports": 3,
    "analytics": 3,
    "products": 3,
    "campaigns": 4,
    "project": 5,
    "demo": 5,
    "mailbox": 5,
    "measure": 5,
    "feedback": 5,
    "tasks": 5,
    "trust": 5,
    "cli": 6,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


# The public face re-exports from above (retain_cli: Store; __main__: the CLI).
PUBLIC_FACE = {"retain_cli", "retain_cli.__main__"}
MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The retain_cli modules ``name`` imports, anywhere in the file (inside functions and
    TYPE_CHECKING blocks too: a lazy import is still an arrow)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t if t in MODULES else base for t in targets]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("retain_cli"):
                found.add(target)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def floor(name: str) -> int:
    parts = name.split(".")
    if len(parts) == 1:  # the package itself: its version, and the public names it re-exports
        return FLOORS["ground"]
    top = parts[1]
    if top in GROUND:
        return FLOORS["ground"]
    return FLOORS[top]


def test_every_module_has_a_floor():
    for name in MODULES:
        floor(name)  # raises KeyError for a module outside the layout


def test_no_import_cycle():
    """Tarjan's strongly connected components over the module graph: each must be alone.

    The package `__init__` a submodule lives in is not counted as imported by it (Python runs
    it first, but a package's `__init__` re-exporting its submodules is not a cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in GRAPH:
        if name not in index:
            visit(name)
    assert cycles == []


def test_arrows_point_down():
    upward = [
        f"{name} -> {target}"
        for name, targets in GRAPH.items()
        if name not in PUBLIC_FACE
        for target in targets
        if floor(target) > floor(name)
    ]
    assert upward == []


def test_cli_holds_no_sql_pandas_or_jinja():
    heavy = re.compile(r"^\s*(?:import|from)\s+(pandas|jinja2|sqlite3|sqlite_utils)\b", re.M)
    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\s+[\w*]", re.M)
    found = []
    for name, path in MODULES.items():
        if not name.startswith("retain_cli.cli"):
            continue
        text = path.read_text()
        found += [f"{name}: {m.group(0).strip()}" for m in heavy.finditer(text)]
        found += [f"{name}: {m.group(0)}" for m in sql.finditer(text)]
    assert found == []


def test_sql_lives_in_the_store():
    statement = re.compile(
        r"""["'](?:\s*)(SELECT\s+[\w*(]|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"""
        r"""CREATE\s+(?:TABLE|INDEX|VIEW)|PRAGMA\s)""",
        re.I,
    )
    found = []
    for name, path in MODULES.items():
        if name.startswith("retain_cli.store"):
            continue
        found += [f"{name}: {m.group(1)}" for m in statement.finditer(path.read_text())]
    assert found == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by what it owns"
