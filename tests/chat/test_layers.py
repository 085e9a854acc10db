"""The chat app's dashboard views and forms never write through the ORM: writes go through
chat.services (which hold the rules), reads that join through chat.selectors."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import chat

WRITE_METHODS = {
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


@pytest.mark.parametrize("module", ["views.py", "forms.py"])
def test_views_and_forms_call_no_write_method(module):
    tree = ast.parse((Path(chat.__file__).parent / module).read_text())
    calls = [
        f"line {node.lineno}: .{node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in WRITE_METHODS
    ]
    assert calls == []
    model_forms = [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(isinstance(b, ast.Attribute) and b.attr == "ModelForm" for b in node.bases)
    ]
    assert model_forms == []  # a ModelForm's save() would write past the services
