"""The query step over a visitor's table (docs/files.md, "The query step"): filters, one
aggregate, one group-by column, a sort and a limit, given as data (the ``query_table``
tool's arguments), checked against the table's columns and types, and computed here with
``Decimal`` arithmetic. Nothing of the model's text is executed or turned into SQL; every
column and operator is validated; results are bounded. Pure functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

from .file_reading import cell_value

FILTER_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "contains", "in", "empty", "not_empty")
AGGREGATES = ("count", "sum", "avg", "min", "max", "count_distinct")
NUMERIC = ("integer", "decimal")
MAX_FILTERS = 10
MAX_LIMIT = 50  # rows or groups given back
MAX_IN_VALUES = 50
ROW_NUMBERS_SHOWN = 20

# The tool's JSON Schema (what the model is told; the checks below are what is enforced).
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "file": {"type": "string", "description": "The file's id (or its exact name) as listed."},
        "filters": {
            "type": "array",
            "maxItems": MAX_FILTERS,
            "items": {
                "type": "object",
                "properties": {
                    "column": {"type": "string"},
                    "op": {"type": "string", "enum": list(FILTER_OPS)},
                    "value": {
                        "description": "A value, or a list of values for 'in'; none for empty/not_empty."
                    },
                },
                "required": ["column", "op"],
            },
        },
        "aggregate": {
            "type": "object",
            "properties": {
                "op": {"type": "string", "enum": list(AGGREGATES)},
                "column": {"type": "string", "description": "Not needed for count."},
            },
            "required": ["op"],
        },
        "group_by": {"type": "string", "description": "A column: one result per value."},
        "sort": {
            "type": "object",
            "properties": {
                "by": {"type": "string", "description": "A column, or 'value' for the aggregate."},
                "descending": {"type": "boolean"},
            },
            "required": ["by"],
        },
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    },
    "required": ["file"],
}


class QueryRefused(Exception):
    """What is wrong with a query, told to the model so it can ask again."""


@dataclass
class Table:
    name: str
    columns: list[dict[str, str]]
    rows: list[list[str]]

    def column(self, name: Any) -> tuple[int, str]:
        """(index, type) of a column named ``name`` (case and spaces ignored)."""
        wanted = " ".join(str(name).split()).casefold() if isinstance(name, str) else None
        for index, column in enumerate(self.columns):
            if column["name"].casefold() == wanted:
                return index, column["type"]
        known = ", ".join(c["name"] for c in self.columns)
        raise QueryRefused(f"There is no column {name!r} in {self.name}; its columns are: {known}.")


@dataclass
class Result:
    matched: int
    value: str | int | None = None  # the aggregate, without group_by
    groups: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)  # 1-based data rows matched (first ones)
    truncated: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"matched_rows": self.matched}
        if self.value is not None:
            out["value"] = self.value
        if self.groups:
            out["groups"] = self.groups
        if self.rows:
            out["rows"] = self.rows
        out["row_numbers"] = self.row_numbers
        if self.truncated:
            out["truncated"] = True
        return out


def table_query(table: Table, arguments: dict[str, Any]) -> Result:
    """Run the query ``arguments`` (the tool's, already checked to be an object) over
    ``table``. Raises :class:`QueryRefused` for anything the grammar does not allow."""
    unknown = set(arguments) - set(SCHEMA["properties"])
    if unknown:
        raise QueryRefused(f"Unknown fields: {', '.join(sorted(unknown))}.")
    tests = [_filter(table, spec) for spec in _listed(arguments.get("filters"), "filters", MAX_FILTERS)]
    matched = [n for n, row in enumerate(table.rows) if all(test(row) for test in tests)]
    limit = _limit(arguments.get("limit"))
    aggregate = arguments.get("aggregate")
    group_by = arguments.get("group_by")
    result = Result(matched=len(matched), row_numbers=[n + 1 for n in matched[:ROW_NUMBERS_SHOWN]])
    if group_by is not None:
        index, _ = table.column(group_by)
        groups: dict[str, list[int]] = {}
        for n in matched:
            groups.setdefault(table.rows[n][index], []).append(n)
        op, compute = _aggregate(table, aggregate or {"op": "count"})
        name = table.columns[index]["name"]
        listed = [{name: key, op: compute(ns), "rows": len(ns)} for key, ns in groups.items()]
        listed = _sorted(table, listed, arguments.get("sort"), by_value=op, group=name)
        result.groups, result.truncated = listed[:limit], len(listed) > limit
        return result
    if aggregate is not None:
        _, compute = _aggregate(table, aggregate)
        result.value = compute(matched)
        return result
    rows = [
        {"row": n + 1, **dict(zip((c["name"] for c in table.columns), table.rows[n], strict=True))}
        for n in matched
    ]
    rows = _sorted(table, rows, arguments.get("sort"), by_value=None, group=None)
    result.rows, result.truncated = rows[:limit], len(rows) > limit
    return result


def _listed(value: Any, what: str, most: int) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise QueryRefused(f"{what} must be a list.")
    if len(value) > most:
        raise QueryRefused(f"At most {most} {what}.")
    return value


def _limit(value: Any) -> int:
    if value is None:
        return 20
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_LIMIT:
        raise QueryRefused(f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return value


def _typed(value: Any, kind: str, column: str) -> Any:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if isinstance(value, dict | list) or value is None:
        raise QueryRefused(f"The value for {column!r} must be a single value.")
    typed = cell_value(text, kind)
    if typed is None:
        raise QueryRefused(f"{text!r} is not a {kind} value, as column {column!r} holds.")
    return typed


def _filter(table: Table, spec: Any) -> Callable[[list[str]], bool]:
    if not isinstance(spec, dict):
        raise QueryRefused("Each filter is an object with column, op and value.")
    index, kind = table.column(spec.get("column"))
    name, op, value = table.columns[index]["name"], spec.get("op"), spec.get("value")
    if op not in FILTER_OPS:
        raise QueryRefused(f"Unknown filter op {op!r}; use one of {', '.join(FILTER_OPS)}.")
    if op == "empty":
        return lambda row: row[index].strip() == ""
    if op == "not_empty":
        return lambda row: row[index].strip() != ""
    if op == "contains":
        needle = str(value).casefold()
        if isinstance(value, dict | list) or value is None or not needle:
            raise QueryRefused("contains needs a text value.")
        return lambda row: needle in row[index].casefold()
    if op == "in":
        values = _listed(value, "values for 'in'", MAX_IN_VALUES)
        wanted = {_typed(v, kind, name) for v in values}
        return lambda row: cell_value(row[index], kind) in wanted
    target = _typed(value, kind, name)
    if op in ("lt", "lte", "gt", "gte") and kind in ("text", "boolean"):
        raise QueryRefused(f"{op} compares numbers or dates; {name!r} holds {kind}.")
    compare: dict[str, Callable[[Any], bool]] = {
        "eq": lambda v: v == target,
        "ne": lambda v: v != target,
        "lt": lambda v: v < target,
        "lte": lambda v: v <= target,
        "gt": lambda v: v > target,
        "gte": lambda v: v >= target,
    }
    test = compare[op]

    def check(row: list[str]) -> bool:
        typed = cell_value(row[index], kind)
        return (op == "ne") if typed is None else test(typed)

    return check


def _aggregate(table: Table, spec: Any) -> tuple[str, Callable[[list[int]], str | int | None]]:
    if not isinstance(spec, dict) or spec.get("op") not in AGGREGATES:
        raise QueryRefused(f"aggregate needs an op among {', '.join(AGGREGATES)}.")
    op = spec["op"]
    if op == "count" and spec.get("column") in (None, ""):
        return op, len
    index, kind = table.column(spec.get("column"))
    if op in ("sum", "avg") and kind not in NUMERIC:
        raise QueryRefused(f"{op} needs a number column; {table.columns[index]['name']!r} holds {kind}.")

    def compute(ns: list[int]) -> str | int | None:
        typed = ((cell_value(table.rows[n][index], kind), table.rows[n][index]) for n in ns)
        return _computed(op, kind, [pair for pair in typed if pair[0] is not None])

    return op, compute


def _computed(op: str, kind: str, found: list[tuple[Any, str]]) -> str | int | None:
    """``op`` over the (typed value, cell text) pairs of the rows that have a value."""
    if op == "count":
        return len(found)
    if op == "count_distinct":
        return len({typed for typed, _ in found})
    if not found:
        return None
    if op in ("min", "max"):
        pick = min if op == "min" else max
        best = pick(found, key=lambda pair: pair[0])
        return str(best[0]) if kind in NUMERIC else best[1]
    try:
        with localcontext() as context:
            context.prec = 50  # exact for any sum of these cells
            total = sum((typed for typed, _ in found), Decimal(0))
            if op == "sum":
                return str(total)
            return str((total / len(found)).quantize(Decimal("0.000001")).normalize())
    except ArithmeticError as error:  # numbers beyond exact arithmetic (read before the bound)
        raise QueryRefused("The numbers of this column are too long to compute exactly.") from error


def _sorted(
    table: Table, items: list[dict[str, Any]], sort: Any, *, by_value: str | None, group: str | None
) -> list[dict[str, Any]]:
    if sort is None:
        return items
    if not isinstance(sort, dict):
        raise QueryRefused("sort is an object with by and descending.")
    descending = bool(sort.get("descending"))
    if by_value is not None and sort.get("by") == "value":
        key, kind = by_value, "decimal"
    else:
        index, kind = table.column(sort.get("by"))
        key = table.columns[index]["name"]
        if group is not None and key != group:
            raise QueryRefused(f"Grouped results sort by {group!r} or 'value'.")
    present: list[tuple[Any, dict[str, Any]]] = []
    absent: list[tuple[Any, dict[str, Any]]] = []
    for item in items:
        typed = cell_value(str(item.get(key) if item.get(key) is not None else ""), kind)
        (absent if typed is None else present).append((typed, item))
    present.sort(key=lambda pair: pair[0], reverse=descending)
    return [item for _, item in present + absent]
