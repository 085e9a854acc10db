"""The model's own field checks (choices, lengths, validators) as problem-details field
errors, for services that take typed values from callers other than a form (the REST API)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models

FieldErrors = dict[str, list[dict[str, str]]]


def model_field_errors(instance: models.Model, *, fields: Iterable[str]) -> FieldErrors:
    """What ``Model.clean_fields`` finds wrong with ``fields`` of ``instance``, as
    ``{"field": [{"code": ..., "message": ...}]}`` (empty when all is well)."""
    names = set(fields)
    exclude = [f.name for f in instance._meta.concrete_fields if f.name not in names]
    try:
        instance.clean_fields(exclude=exclude)
    except ValidationError as exc:
        return {
            name: [
                {"code": error.code or "invalid", "message": message}
                for error in errors
                for message in error.messages
            ]
            for name, errors in exc.error_dict.items()
        }
    return {}
