"""chat.file_query: the query step over a table: filters, aggregates, group by, sorting,
exact Decimal arithmetic, and every column, operator and value checked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chat.file_query import QueryRefused, Table, table_query

COLUMNS = [
    {"name": "id", "type": "integer"},
    {"name": "Region", "type": "text"},
    {"name": "amount", "type": "decimal"},
    {"name": "day", "type": "date"},
]
ROWS = [
    ["1", "North", "0.10", "2026-01-01"],
    ["2", "South", "0.20", "2026-01-02"],
    ["3", "North", "0.20", "2026-01-03"],
    ["4", "East", "", "2026-01-04"],
    ["5", "north", "1,000.05", "2026-02-01"],
]
TABLE = Table("sales.csv", COLUMNS, ROWS)


def q(**arguments):
    return table_query(TABLE, {"file": "sales.csv", **arguments}).as_dict()


def test_sum_with_a_filter_is_exact_and_names_its_rows():
    # Floats would give 1000.3500000000001; text matches ignore case.
    found = q(
        filters=[{"column": "region", "op": "eq", "value": "NORTH"}],
        aggregate={"op": "sum", "column": "amount"},
    )
    assert found == {"matched_rows": 3, "value": "1000.35", "row_numbers": [1, 3, 5]}
    assert Decimal(found["value"]) == Decimal("0.10") + Decimal("0.20") + Decimal("1000.05")


@pytest.mark.parametrize(
    ("aggregate", "value"),
    [
        ({"op": "count"}, 5),
        ({"op": "count", "column": "amount"}, 4),
        ({"op": "count_distinct", "column": "region"}, 3),
        ({"op": "avg", "column": "amount"}, "250.1375"),
        ({"op": "min", "column": "amount"}, "0.10"),
        ({"op": "max", "column": "day"}, "2026-02-01"),
        ({"op": "min", "column": "region"}, "East"),
    ],
)
def test_aggregates(aggregate, value):
    assert q(aggregate=aggregate)["value"] == value


def test_filters_compare_by_the_columns_type():
    def rows(*filters):
        return q(filters=list(filters))["row_numbers"]

    assert rows({"column": "amount", "op": "gt", "value": "0.15"}) == [2, 3, 5]
    assert rows({"column": "amount", "op": "gte", "value": 1000}) == [5]
    assert rows({"column": "day", "op": "lt", "value": "2026-01-03"}) == [1, 2]
    assert rows({"column": "id", "op": "in", "value": [2, "4"]}) == [2, 4]
    assert rows({"column": "amount", "op": "empty"}) == [4]
    assert rows({"column": "region", "op": "contains", "value": "ort"}) == [1, 3, 5]
    assert rows(
        {"column": "region", "op": "ne", "value": "north"}, {"column": "amount", "op": "not_empty"}
    ) == [2]


def test_group_by_with_sort_and_limit():
    found = q(
        group_by="region",
        aggregate={"op": "sum", "column": "amount"},
        sort={"by": "value", "descending": True},
    )
    assert found["groups"] == [
        {"Region": "north", "sum": "1000.05", "rows": 1},
        {"Region": "North", "sum": "0.30", "rows": 2},
        {"Region": "South", "sum": "0.20", "rows": 1},
        {"Region": "East", "sum": None, "rows": 1},
    ]
    counted = q(group_by="region", limit=2)
    assert len(counted["groups"]) == 2 and counted["truncated"] is True and counted["groups"][0]["count"] == 2


def test_listed_rows_are_bounded_and_sorted():
    found = q(sort={"by": "amount", "descending": True}, limit=2)
    assert [r["row"] for r in found["rows"]] == [5, 2] and found["truncated"] is True
    assert found["rows"][0] == {
        "row": 5,
        "id": "5",
        "Region": "north",
        "amount": "1,000.05",
        "day": "2026-02-01",
    }


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"filters": [{"column": "price", "op": "eq", "value": 1}]}, "no column 'price'"),
        ({"filters": [{"column": "amount", "op": "like", "value": 1}]}, "Unknown filter op 'like'"),
        ({"filters": [{"column": "amount", "op": "eq", "value": "ten"}]}, "'ten' is not a decimal value"),
        ({"filters": [{"column": "region", "op": "gt", "value": "a"}]}, "compares numbers or dates"),
        ({"filters": [{"column": "amount", "op": "eq", "value": {"$gt": 1}}]}, "single value"),
        ({"filters": "amount > 1"}, "filters must be a list"),
        ({"aggregate": {"op": "sum", "column": "region"}}, "needs a number column"),
        ({"aggregate": {"op": "median", "column": "amount"}}, "aggregate needs an op"),
        ({"aggregate": {"op": "sum"}}, "no column None"),
        ({"limit": 500}, "limit must be"),
        ({"sql": "DROP TABLE x"}, "Unknown fields: sql"),
        ({"group_by": "region", "sort": {"by": "amount"}}, "Grouped results sort by"),
        ({"filters": [{"column": "id", "op": "eq", "value": 1}] * 11}, "At most 10"),
    ],
)
def test_anything_outside_the_grammar_is_refused(arguments, says):
    with pytest.raises(QueryRefused) as refused:
        table_query(TABLE, {"file": "sales.csv", **arguments})
    assert says in str(refused.value)


def test_numbers_beyond_exact_arithmetic_are_refused_not_raised():
    """Reading keeps numbers of at most 30 digits a side (longer ones are text); a value
    beyond the 50 digits of the arithmetic's context is refused, never an exception."""
    from chat.file_query import _computed

    huge = [(Decimal("1" + "0" * 60), "1" + "0" * 60), (Decimal(1), "1")]
    with pytest.raises(QueryRefused, match="too long to compute exactly"):
        _computed("avg", "decimal", huge)
