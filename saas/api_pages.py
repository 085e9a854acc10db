"""Pages of every list of the workspace API, by cursor (keyset pagination).

A list is ordered by one field, ascending or descending, then by the id the same way, so
the order is total; a page asks for ``limit`` rows after the last row of the previous
page, named by ``cursor``, an opaque string the API gave (the ordering, that row's value
and its id). Rows added or removed between two pages never make a page skip or repeat a
row, and a page costs one index range scan however deep it is (an offset would scan every
row before it).

    class WidgetListInput(PageInput):
        ordering = ordering_field(("created_at", "name"), default="-created_at")

    query = valid_query(WidgetListInput, request)       # 422 with per-field errors
    rows, next_cursor = page_of(queryset, query)
    return Response({"results": WidgetOutput(rows, many=True).data, "next_cursor": next_cursor})

and in the OpenAPI document: ``page_parameters(WidgetListInput)`` and
``page_output("WidgetPage", WidgetOutput)``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request

from .errors import ValidationFailed

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
INVALID_CURSOR = "This cursor is not one this API gave for this ordering."
M = TypeVar("M", bound=models.Model)


def ordering_field(fields: tuple[str, ...], *, default: str) -> serializers.ChoiceField:
    """The ``ordering`` parameter: each field ascending or, with ``-``, descending."""
    choices = [option for name in fields for option in (name, f"-{name}")]
    return serializers.ChoiceField(
        choices=choices,
        default=default,
        help_text=f"One of {', '.join(f'`{c}`' for c in choices)}; `-` for descending. Ties by id.",
    )


class PageInput(serializers.Serializer):
    """``cursor`` and ``limit``; a subclass adds ``ordering`` (:func:`ordering_field`) and
    its filters."""

    cursor = serializers.CharField(
        required=False, max_length=500, help_text="`next_cursor` of the previous page."
    )
    limit = serializers.IntegerField(
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        default=PAGE_SIZE,
        help_text=f"Rows per page, 1 to {MAX_PAGE_SIZE} ({PAGE_SIZE} by default).",
    )

    def validate_cursor(self, value: str) -> str:
        """Its shape, with the other fields' errors (page_of checks the rest: the ordering
        it was given for, the type of its value)."""
        try:
            given, _, pk = _cursor_parts(value)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as error:
            raise serializers.ValidationError(INVALID_CURSOR, code="invalid") from error
        if not isinstance(given, str) or not isinstance(pk, int) or isinstance(pk, bool):
            raise serializers.ValidationError(INVALID_CURSOR, code="invalid")
        return value


def valid_query(input_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The query string read by ``input_class``; 422 ``validation_error`` per field."""
    data = input_class(data=request.query_params.dict())
    if not data.is_valid():
        errors = {
            field: [{"code": str(getattr(e, "code", "invalid")), "message": str(e)} for e in items]
            for field, items in data.errors.items()
        }
        raise ValidationFailed("Some parameters are not valid.", errors=errors)
    return dict(data.validated_data)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _typed(field: models.Field[Any, Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(field, models.DateTimeField):
        moment = datetime.fromisoformat(value)
        if timezone.is_naive(moment):
            raise ValueError("naive")
        return moment
    if isinstance(field, models.DateField):
        return date.fromisoformat(value)
    if isinstance(field, models.DecimalField):
        return Decimal(value)
    if isinstance(field, models.IntegerField | models.AutoField | models.BigAutoField):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("not an integer")
        return value
    if not isinstance(value, str | int | float | bool):
        raise ValueError("not a plain value")
    return value


def cursor_encode(ordering: str, value: Any, pk: int) -> str:
    raw = json.dumps([ordering, _plain(value), pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid() -> ValidationFailed:
    error = {"code": "invalid", "message": INVALID_CURSOR}
    return ValidationFailed("Some parameters are not valid.", errors={"cursor": [error]})


def _cursor_parts(cursor: str) -> tuple[Any, Any, Any]:
    given, value, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return given, value, pk


def cursor_decode(model: type[models.Model], ordering: str, cursor: str) -> tuple[Any, int]:
    """The (value, id) a cursor names; 422 when it is not one given for ``ordering``."""
    try:
        given, value, pk = _cursor_parts(cursor)
        if given != ordering or not isinstance(pk, int) or isinstance(pk, bool):
            raise ValueError("another ordering")
        name = ordering.lstrip("-")
        field = model._meta.pk if name == "pk" else model._meta.get_field(name)
        return _typed(field, value), pk  # type: ignore[arg-type]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, FieldDoesNotExist) as error:
        raise _invalid() from error


def page_of(queryset: QuerySet[M], query: dict[str, Any]) -> tuple[list[M], str | None]:
    """One page of ``queryset`` for ``query`` (``ordering``, ``cursor``, ``limit``): its rows
    and the cursor of the next page (None on the last)."""
    ordering: str = query.get("ordering") or "-pk"
    name, descending = ordering.lstrip("-"), ordering.startswith("-")
    # Empty values last whichever the direction (PostgreSQL puts them first when descending).
    first = F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
    rows = queryset.order_by(first, "-pk" if descending else "pk")
    if query.get("cursor"):
        value, pk = cursor_decode(queryset.model, ordering, query["cursor"])
        after = "lt" if descending else "gt"
        if value is None:  # among the empty values, which come last: only the ids remain
            rows = rows.filter(**{f"{name}__isnull": True, f"pk__{after}": pk})
        else:
            beyond = (
                Q(**{f"{name}__{after}": value})
                | Q(**{name: value, f"pk__{after}": pk})
                | Q(**{f"{name}__isnull": True})
            )
            rows = rows.filter(beyond)
    limit = int(query.get("limit") or PAGE_SIZE)
    page = list(rows[: limit + 1])
    if len(page) <= limit:
        return page, None
    page = page[:limit]
    last = page[-1]
    return page, cursor_encode(ordering, getattr(last, name), last.pk)


def page_parameters(input_class: type[serializers.Serializer]) -> list[OpenApiParameter]:
    """The OpenAPI query parameters of a list: ``input_class``'s fields, documented."""
    kinds = {serializers.IntegerField: int, serializers.BooleanField: bool}
    parameters = []
    for name, field in input_class().fields.items():
        kind = next((k for cls, k in kinds.items() if isinstance(field, cls)), str)
        enum = list(field.choices) if isinstance(field, serializers.ChoiceField) else None
        parameters.append(
            OpenApiParameter(
                name,
                kind,
                required=False,
                enum=enum,
                description=str(field.help_text or ""),
            )
        )
    return parameters


def page_output(name: str, item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The OpenAPI shape of one page of ``item``: ``results`` and ``next_cursor``."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "results": item(many=True),
            "next_cursor": serializers.CharField(
                allow_null=True, help_text="Pass as `cursor` for the next page; null on the last page."
            ),
        },
    )
