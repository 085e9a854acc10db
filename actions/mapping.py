"""What the model is given of an endpoint's answer: the fields the action keeps (dotted
paths into the JSON: ``order.status``, ``items.0.name``), or the whole answer, as compact
JSON or plain text, cut to ``ACTIONS_RESULT_CHARS``. An answer that is neither readable
JSON nor plain text (HTML, binary, JSON cut off) is refused as unreadable."""

from __future__ import annotations

import json
from typing import Any

MISSING = object()


class Unreadable(ValueError):
    pass


def path_get(value: Any, path: str) -> Any:
    """``path``'s value in ``value`` (dict keys and list indexes, dot-separated), or MISSING."""
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 12].rstrip() + " …(cut off)"


def result_text(body: bytes, content_type: str, fields: list[str], *, limit: int, truncated: bool) -> str:
    """The answer for the model; raises :class:`Unreadable` (with the reason) when there is
    nothing it could use."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body.strip():
        return "Done (the endpoint answered with no content)."
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable("The answer is not text.") from exc
    looks_json = kind.endswith("json") or text.lstrip()[:1] in ("{", "[")
    if looks_json:
        if truncated:
            raise Unreadable("The answer is larger than the platform reads.")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise Unreadable("The answer is not valid JSON.") from exc
        if fields:
            data = {f: (None if (v := path_get(data, f)) is MISSING else v) for f in fields}
        return _cut(json.dumps(data, ensure_ascii=False, separators=(",", ":")), limit)
    if kind in ("text/html", "application/xhtml+xml") or text.lstrip()[:1] == "<":
        raise Unreadable("The answer is a web page, not data.")
    if "\x00" in text:
        raise Unreadable("The answer is not text.")
    return _cut(text.strip(), limit)


def result_words(text: str) -> str:
    """A result (:func:`result_text`) in plain words for a visitor: an object's fields one
    a line as "Label: value" (the last part of a dotted path, its underscores as spaces),
    anything else as it is."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()
    if not isinstance(data, dict):
        return _shown(data)
    lines = []
    for key, value in data.items():
        label = str(key).rsplit(".", 1)[-1].replace("_", " ").strip() or str(key)
        lines.append(f"{label[:1].upper()}{label[1:]}: {_shown(value)}")
    return "\n".join(lines)


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
