"""The widget API's modules: views write only through services, modules stay small, and the
package's modules import each other one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chat" / "widget_api"
MODULES = sorted(PACKAGE.glob("*.py"))
VIEW_MODULES = [*MODULES, ROOT / "widget_builder" / "public_api.py"]
# The ORM's write methods (queryset, model, related manager); a view calls a service instead.
WRITES = {
    "save",
    "delete",
    "create",
    "update",
    "get_or_create",
    "update_or_create",
    "bulk_create",
    "bulk_update",
    "set",
    "add",
    "remove",
    "clear",
}


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", VIEW_MODULES, ids=_name)
def test_no_orm_write_in_the_api_modules(path):
    calls = [
        f"{_name(path)}:{node.lineno} .{node.func.attr}()"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES
    ]
    assert calls == []


@pytest.mark.parametrize("path", VIEW_MODULES, ids=_name)
def test_modules_stay_well_under_400_lines(path):
    assert len(path.read_text().splitlines()) < 300


def _siblings(path: Path) -> set[str]:
    """The package's modules that ``path`` imports."""
    names = {p.stem for p in MODULES}
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found & names


def test_no_import_cycle_inside_the_package():
    graph = {p.stem: _siblings(p) - {"__init__"} for p in MODULES if p.stem != "__init__"}
    done: set[str] = set()

    def visit(module: str, trail: tuple[str, ...]) -> None:
        assert module not in trail, " -> ".join((*trail, module))
        if module in done:
            return
        for imported in graph[module]:
            visit(imported, (*trail, module))
        done.add(module)

    for module in graph:
        visit(module, ())
    assert "__init__" not in set().union(*graph.values())  # submodules never import the package
