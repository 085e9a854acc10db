"""The rules of docs/architecture.md that code review alone would let slip, checked on the
source: writes only through services, modules of a readable size, deferred imports that say
why, every path following the trailing-slash rule, and docs that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "saas",
    "tenants",
    "billing",
    "widget_builder",
    "chat",
    "exports",
    "knowledge",
    "insights",
    "quality",
    "reports",
    "webhooks",
    "audit",
    "sso",
    "privacy",
    "scheduler",
    "retention",
    "actions",
    "assist",
    "public_site",
)
MAX_MODULE_LINES = 600

# Modules that take input from outside and must hand every write to a service.
ENTRY_MODULES = {"views", "apis", "forms", "serializers", "adapter", "public_api", "runtime_views"}
ENTRY_PACKAGES = {"views", "apis", "widget_api", "serializers"}
ORM_WRITES = {"save", "delete", "create", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}
QUERYSET_WRITES = {"update"}
RELATED_WRITES = {"set", "add", "remove", "clear"}
NOT_THE_ORM = {"cache", "session", "messages", "storage", "default_storage", "response", "headers"}


def app_modules() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and "__pycache__" not in path.parts
    )


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def is_entry_module(path: Path) -> bool:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return parts[-1] in ENTRY_MODULES or any(part in ENTRY_PACKAGES for part in parts[1:-1])


def _receiver_chain(node: ast.AST) -> list[str]:
    """Names along ``a.b(...).c`` from the right: the attributes and called names a call
    is made on (``Widget.objects.filter(x).update`` -> update, filter, objects, Widget)."""
    names: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Name):
            names.append(node.id)
            return names
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            return names


def orm_writes(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        chain = _receiver_chain(node.func)
        method, receivers = chain[0], set(chain[1:])
        if receivers & NOT_THE_ORM:
            continue
        queryset = bool(receivers & {"objects", "filter", "exclude", "all", "select_for_update"})
        related = isinstance(node.func.value, ast.Attribute)
        if (
            method in ORM_WRITES
            or (method in QUERYSET_WRITES and queryset)
            or (method in RELATED_WRITES and related and queryset is False and len(chain) > 2)
        ):
            found.append((node.lineno, ".".join(reversed(chain))))
    return found


def test_the_write_walker_finds_what_it_must():
    source = (
        "def view(request, form, widget):\n"
        "    form.save()\n"
        "    Widget.objects.filter(pk=1).update(name='x')\n"
        "    Widget.objects.create(name='x')\n"
        "    widget.bot.knowledge_bases.set([])\n"
        "    context.update(a=1)\n"
        "    cache.delete('k')\n"
        "    request.session.save()\n"
        "    seen.add(1)\n"
    )
    assert [line for line, _ in orm_writes(source)] == [2, 3, 4, 5]


def test_views_forms_and_serializers_write_only_through_services():
    offenders = [
        f"{path.relative_to(ROOT)}:{line} {call}"
        for path in app_modules()
        if is_entry_module(path)
        for line, call in orm_writes(path.read_text())
    ]
    assert offenders == [], "Move these writes into a service:\n" + "\n".join(offenders)


def test_no_app_module_is_longer_than_the_limit():
    long = {
        _module_name(path): n
        for path in app_modules()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"Split these modules into packages by subdomain: {long}"


def deferred_imports_without_reason(source: str) -> list[int]:
    """Imports inside functions not explained by a comment: a run of consecutive imports
    needs a comment on the line above its first import (or on one of its lines)."""
    lines = source.splitlines()
    missing = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        imports = sorted(
            (n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)), key=lambda n: n.lineno
        )
        runs: list[list[ast.stmt]] = []
        for imp in imports:
            if runs and imp.lineno <= (runs[-1][-1].end_lineno or imp.lineno) + 2:
                runs[-1].append(imp)
            else:
                runs.append([imp])
        for run in runs:
            first, last = run[0].lineno, run[-1].end_lineno or run[-1].lineno
            above = lines[first - 2].strip() if first >= 2 else ""
            if not above.startswith("#") and not any("#" in lines[i - 1] for i in range(first, last + 1)):
                missing.append(first)
    return sorted(set(missing))


def test_deferred_imports_say_why():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in app_modules()
        for line in deferred_imports_without_reason(path.read_text())
    ]
    assert offenders == [], "Import at module level, or say in a comment why not:\n" + "\n".join(offenders)


# Documents kept outside the repository, which a reader of the code cannot open.
OUTSIDE = ("DESIGN" + "_NOTES", "RELIA" + "BILITY", "STY" + "LE §")
DOC_REFERENCE = re.compile(r"(?:docs/[\w./-]+\.md|[A-Z_]+\.md|" + "|".join(OUTSIDE) + r")\b")


def test_code_points_only_at_documents_in_the_repository():
    missing = []
    for path in [*app_modules(), *(ROOT / "tests").rglob("*.py")]:
        for match in DOC_REFERENCE.finditer(path.read_text()):
            name = match.group(0)
            if not name.endswith(".md") or not ((ROOT / name).exists() or (ROOT / "docs" / name).exists()):
                missing.append(f"{path.relative_to(ROOT)}: {name}")
    assert missing == [], "These documents are not in the repository:\n" + "\n".join(missing)


@pytest.mark.parametrize("urlconf", ["saas.urls_public", "saas.urls_tenant"])
def test_every_route_is_declared_a_page_or_an_endpoint(urlconf):
    """docs/architecture.md, URLs: routes are declared with ``saas.routes.page`` (ends with
    "/") or ``endpoint`` (does not), which check the shape when the URL conf loads; this
    makes sure no route of ours bypasses them."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern), p

    undeclared = [
        route
        for route, pattern in walk(get_resolver(urlconf).url_patterns)
        if not route.startswith("admin/")  # Django's admin keeps its own conventions
        and pattern.callback.__module__.split(".")[0] in APPS
        and not hasattr(pattern, "route_kind")
    ]
    assert undeclared == []


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
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


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


@pytest.fixture(scope="module")
def import_graph():
    return grimp.build_graph(*APPS, cache_dir=None)


@pytest.mark.parametrize("app", APPS)
def test_no_import_cycle_inside_an_app(import_graph, app):
    """Module-level imports, as import-linter reads them; the per-app layers contracts in
    pyproject.toml keep the order, this catches a cycle among modules they leave free."""
    modules = {m for m in import_graph.find_descendants(app) if ".migrations" not in m} | {app}
    edges = {m: import_graph.find_modules_directly_imported_by(m) & modules - {m} for m in modules}
    # A package's __init__ re-exporting its modules is not a cycle with them.
    edges = {m: {i for i in imported if not m.startswith(i + ".")} for m, imported in edges.items()}
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])
