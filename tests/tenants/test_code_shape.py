"""Code shape of tenants, billing, widget_builder and public_site: no import cycle inside an
app (read with grimp, as import-linter reads it), deferred imports only with a reason, and
no ORM write in a view, API or form module (writes go through services)."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

APPS = ("tenants", "billing", "widget_builder", "public_site")
ROOT = Path(__file__).resolve().parents[2]
ORM_WRITES = {
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
INPUT_MODULES = {"views", "apis", "forms", "adapter", "serializers", "public_api", "runtime_views"}


def _sources(app: str) -> list[Path]:
    return sorted(p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts)


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among ``edges`` (module -> modules it imports), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(edges.get(module, ())):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (found := visit(imported)):
                return found
        state[module] = 2
        path.pop()
        return None

    for module in sorted(edges):
        if module not in state and (found := visit(module)):
            return found
    return None


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*APPS, cache_dir=None)


@pytest.mark.parametrize("app", APPS)
def test_no_import_cycle_inside_the_app(graph, app):
    modules = {m for m in graph.find_children(app) | graph.find_descendants(app) if ".migrations" not in m}
    modules.add(app)
    edges = {m: graph.find_modules_directly_imported_by(m) & modules - {m} for m in modules}
    assert _cycle(edges) is None, " -> ".join(_cycle(edges) or [])


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("app", APPS)
def test_deferred_imports_say_why(app):
    unexplained = []
    for path in _sources(app):
        if path.name == "runtime_views.py":
            continue  # the public widget runtime's module, outside this check for now
        lines = path.read_text().splitlines()
        for function in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    above = node.lineno - 2
                    while above >= 0 and lines[above].lstrip().startswith(("from ", "import ")):
                        above -= 1  # one comment explains a block of imports
                    if above < 0 or not lines[above].lstrip().startswith("#"):
                        unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not unexplained, "deferred imports need a comment saying why: " + ", ".join(unexplained)


@pytest.mark.parametrize("app", APPS)
def test_views_apis_and_forms_call_no_orm_write(app):
    found = []
    for path in _sources(app):
        if path.stem not in INPUT_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            if call and node.func.attr in ORM_WRITES:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)[:80]}")
    assert not found, "writes belong in services: " + "; ".join(found)
