"""What the model is given of an answer (actions.mapping), without a server."""

from __future__ import annotations

import json

import pytest

from actions.mapping import MISSING, Unreadable, path_get, result_text


def test_paths_reach_into_objects_and_lists():
    data = {"order": {"items": [{"name": "Lamp"}, {"name": "Desk"}]}, "0": "zero"}
    assert path_get(data, "order.items.1.name") == "Desk"
    assert path_get(data, "0") == "zero"
    assert path_get(data, "order.items.5.name") is MISSING
    assert path_get(data, "order.name.x") is MISSING


def test_the_fields_kept_or_the_whole_answer_cut_to_the_limit():
    body = json.dumps({"a": {"b": 1}, "big": "x" * 500}).encode()
    assert json.loads(result_text(body, "application/json", ["a.b", "c"], limit=100, truncated=False)) == {
        "a.b": 1,
        "c": None,
    }
    whole = result_text(body, "application/json", [], limit=100, truncated=False)
    assert len(whole) <= 100 and whole.endswith("…(cut off)")
    assert result_text(b"  ", "text/plain", [], limit=100, truncated=False).startswith("Done")


@pytest.mark.parametrize(
    ("body", "content_type", "truncated"),
    [
        (b'{"a": ', "application/json", False),
        (b'{"a": 1}', "application/json", True),
        (b"<!doctype html><p>Sign in</p>", "text/plain", False),
        (b"\xff\xfe\x00junk", "application/octet-stream", False),
    ],
)
def test_junk_is_unreadable(body, content_type, truncated):
    with pytest.raises(Unreadable):
        result_text(body, content_type, [], limit=100, truncated=truncated)
