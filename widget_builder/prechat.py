"""Prechat forms: the definitions tenants build and the answers visitors give.

A definition is an ordered list of fields::

    {"key": "email", "kind": "email", "label": "Your email", "required": true,
     "placeholder": "", "options": []}

Built-in kinds (``name``, ``email``, ``phone`` in E.164, ``country`` as ISO 3166 alpha-2,
``message``) fill the contact's own columns; custom kinds (``text``, ``select``,
``checkbox``) go to its ``answers``. Validation happens here, on the server, whatever the
widget already checked.
"""

from __future__ import annotations

import re

import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from saas.errors import FieldErrors, ValidationFailed

BUILTIN_KINDS = {"name": 120, "email": 254, "phone": 20, "country": 2, "message": 2000}
CUSTOM_KINDS = {"text": 500, "select": 200, "checkbox": 5}
MAX_FIELDS = 12
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def prechat_fields_validate(fields: list) -> list[dict]:
    """Normalized definitions, or ValidationFailed naming each bad field by position."""
    if not isinstance(fields, list) or len(fields) > MAX_FIELDS:
        raise ValidationFailed(
            errors={"prechat_fields": [_error("invalid", f"Use a list of at most {MAX_FIELDS} fields.")]}
        )
    normalized, errors, seen = [], {}, set()
    for index, raw in enumerate(fields):
        raw = raw if isinstance(raw, dict) else {}
        kind = raw.get("kind")
        key = raw.get("key") or (kind if kind in BUILTIN_KINDS else "")
        problems = []
        if kind not in BUILTIN_KINDS and kind not in CUSTOM_KINDS:
            problems.append(
                _error(
                    "invalid_kind", "Choose name, email, phone, country, message, text, select or checkbox."
                )
            )
        if not isinstance(key, str) or not _KEY_RE.match(key) or key in seen:
            problems.append(
                _error("invalid_key", "Each field needs a unique key of lowercase letters, digits, _.")
            )
        options = raw.get("options") or []
        if kind == "select" and (
            not isinstance(options, list)
            or not options
            or len(options) > 50
            or not all(isinstance(o, str) and 0 < len(o) <= 200 for o in options)
        ):
            problems.append(
                _error("invalid_options", "A choice list needs 1 to 50 options of up to 200 characters.")
            )
        label = str(raw.get("label") or "").strip()[:120]
        if not label:
            problems.append(_error("required", "Each field needs a label."))
        if problems:
            errors[f"prechat_fields.{index}"] = problems
            continue
        seen.add(key)
        normalized.append(
            {
                "key": key,
                "kind": kind,
                "label": label,
                "required": bool(raw.get("required")),
                "placeholder": str(raw.get("placeholder") or "")[:120],
                "options": options if kind == "select" else [],
            }
        )
    if errors:
        raise ValidationFailed(errors=errors)
    return normalized


def prechat_answers_clean(fields: list[dict], data: dict) -> dict:
    """The cleaned answers by key; ValidationFailed with per-field errors otherwise."""
    data = data if isinstance(data, dict) else {}
    cleaned: dict[str, str | bool] = {}
    errors: FieldErrors = {}
    for field in fields:
        key, kind = field["key"], field["kind"]
        value = data.get(key)
        if kind == "checkbox":
            checked = value is True or value in ("true", "on", "1", 1)
            if field["required"] and not checked:
                errors[key] = [_error("required", "Please tick this box.")]
            cleaned[key] = checked
            continue
        text = str(value).strip() if isinstance(value, str | int | float) else ""
        if "\x00" in text:
            errors[key] = [_error("invalid", "This value contains characters that are not allowed.")]
            continue
        if not text:
            if field["required"]:
                errors[key] = [_error("required", "This field is required.")]
            continue
        limit = BUILTIN_KINDS.get(kind) or CUSTOM_KINDS[kind]  # kinds were checked when stored
        if len(text) > limit:
            errors[key] = [_error("too_long", f"Use at most {limit} characters.")]
            continue
        try:
            cleaned[key] = _clean_value(kind, text, field)
        except ValidationError as exc:
            errors[key] = [_error(exc.code or "invalid", exc.messages[0])]
    unknown = set(data) - {f["key"] for f in fields}
    if unknown:
        errors["__all__"] = [_error("unknown_field", f"Unknown field: {sorted(unknown)[0]}.")]
    if errors:
        raise ValidationFailed(errors=errors)
    return cleaned


def _clean_value(kind: str, text: str, field: dict) -> str:
    if kind == "email":
        try:
            validate_email(text)
        except ValidationError as exc:
            raise ValidationError("Enter a valid email address.", code="invalid_email") from exc
        return text.lower()
    if kind == "phone":
        phone = re.sub(r"[\s().-]", "", text)
        if not _E164_RE.match(phone):
            raise ValidationError(
                "Enter the number in international form, like +14155550123.", code="invalid_phone"
            )
        return phone
    if kind == "country":
        if pycountry.countries.get(alpha_2=text.upper()) is None:
            raise ValidationError("Choose a country (ISO code such as DE or US).", code="invalid_country")
        return text.upper()
    if kind == "select" and text not in field["options"]:
        raise ValidationError("Choose one of the options.", code="invalid_choice")
    return text
