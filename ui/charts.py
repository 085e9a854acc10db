"""Bar charts drawn on the server as SVG: a series of (day, value) in, the chart's geometry
out (bars, axis ticks and labels, an optional limit line). No JavaScript and no inline
style: the template (``templates/billing/_bar_chart.html``) puts these numbers in geometry
attributes and the colours come from ``.chart`` in app.css.

Horizontal positions are percentages of the plot's width and vertical ones are pixels, so
the chart takes the width it is given while its text keeps its size (a scaled viewBox would
shrink the labels to nothing on a phone). The y labels sit left of the plot, in the
figure's padding.

A pure function of its input, so it is tested without a browser or a database. The
repeated parts (a bar, a heat map's cell, a table row) are written here as escaped markup
(``bars_markup``, ``rows_markup``, ``cells_markup``, ``table_markup``): a year of bars or
168 cells through the template language cost tens of milliseconds a page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

HEIGHT = 220
TOP, BOTTOM = 20, 24  # room for the value shown on hover above the tallest bar; the x labels
MAX_X_LABELS = 6
Y_TICKS = 4  # at most this many steps above zero


@dataclass(frozen=True)
class Bar:
    day: date
    value: int
    x: float  # the column (hover and focus area), in % of the plot's width
    width: float
    bar_x: float  # the bar itself, inside the column (%)
    bar_width: float
    y: float  # px from the top
    height: float
    center: float  # the middle of the column (the value's x, %)
    label: str  # "3 Dec: 42 AI answers"
    value_y: float  # where the value sits above the bar (shown on hover and focus)


@dataclass(frozen=True)
class Tick:
    position: float  # y for the y axis (px), x for the x axis (% of the plot's width)
    text: str


@dataclass(frozen=True)
class BarChart:
    height: int
    top: float
    bottom: float  # y of the x axis
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    limit_y: float | None
    limit_label: str
    total: int
    peak: int
    summary: str  # one sentence naming the range, the total and the peak (the SVG's description)
    summed: bool = True  # the values add up (counts), so the table shows their total

    @property
    def plot_height(self) -> float:
        return self.bottom - self.top

    @property
    def bars_markup(self) -> SafeString:
        """Each bar: a focusable column whose title and label give its value."""
        return _joined(
            format_html(
                BAR,
                label=bar.label,
                x=bar.x,
                top=self.top,
                width=bar.width,
                plot_height=self.plot_height,
                bar=format_html(BAR_RECT, x=bar.bar_x, y=bar.y, width=bar.bar_width, height=bar.height)
                if bar.value
                else "",
                center=bar.center,
                value_y=bar.value_y,
                day=date_format(bar.day, "j M"),
                value=bar.value,
            )
            for bar in self.bars
        )

    @property
    def rows_markup(self) -> SafeString:
        """The numbers, a table row a bar."""
        return _joined(
            format_html(BAR_ROW, day=date_format(bar.day, "D j M"), value=bar.value) for bar in self.bars
        )


BAR = (
    '<g class="col" tabindex="0" role="img" aria-label="{label}"><title>{label}</title>'
    '<rect class="hit" x="{x}%" y="{top}" width="{width}%" height="{plot_height}"></rect>{bar}'
    '<text class="value" x="{center}%" y="{value_y}" text-anchor="middle" aria-hidden="true">'
    "{day} \N{MIDDLE DOT} {value}</text></g>\n"
)
BAR_RECT = '<rect class="bar" x="{x}%" y="{y}" width="{width}%" height="{height}" rx="2"></rect>'
BAR_ROW = '<tr><td>{day}</td><td class="num">{value}</td></tr>'


def _joined(parts: Iterable[str]) -> SafeString:
    return mark_safe("".join(parts))  # noqa: S308 (every part is format_html's)


def day_label(day: date) -> str:
    """ "3 Dec": short, unambiguous in every locale we write for."""
    return f"{day.day} {day:%b}"


def nice_step(peak: float, ticks: int = Y_TICKS) -> int:
    """The smallest step of 1, 2 or 5 times a power of ten (at least 1) such that ``ticks``
    steps reach ``peak``."""
    if peak <= ticks:
        return 1
    raw = peak / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return int(factor * magnitude)
    return int(10 * magnitude)  # pragma: no cover (the loop always returns)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def bar_chart(
    series: Sequence[tuple[date, int]],
    *,
    unit: str,
    unit_one: str = "",
    limit: float | None = None,
    limit_label: str = "",
    height: int = HEIGHT,
    per: str = "day",
    summed: bool = True,
) -> BarChart:
    """The geometry of a bar chart of ``series`` (one bar per day, in order).

    ``per`` names what a bar covers ("day", or "week" for bars of seven days each);
    ``unit`` names what is counted ("AI answers"; ``unit_one`` its singular) for the labels;
    ``limit`` draws a dashed line at that value (the y axis reaches it), labelled
    ``limit_label``. The y axis has at most ``Y_TICKS`` steps of 1, 2 or 5 times a power of ten;
    the x axis labels at most ``MAX_X_LABELS`` days, evenly spaced from the first.
    ``summed=False`` for values that do not add up (a rate): no total is stated.
    """
    one = unit_one or unit
    bottom = height - BOTTOM
    plot_h = bottom - TOP
    values = [v for _, v in series]
    peak = max(values, default=0)
    top_value = max(peak, math.ceil(limit) if limit else 0, 1)
    step = nice_step(top_value)
    steps = math.ceil(top_value / step)
    y_max = step * steps

    def y_of(value: float) -> float:
        return round(bottom - plot_h * value / y_max, 2)

    slot = 100 / max(len(series), 1)
    gap = slot * (0.2 if len(series) > 12 else 0.35)
    bars = []
    for i, (day, value) in enumerate(series):
        x = i * slot
        y = y_of(value)
        bars.append(
            Bar(
                day=day,
                value=value,
                x=round(x, 2),
                width=round(slot, 2),
                bar_x=round(x + gap / 2, 2),
                bar_width=round(slot - gap, 2),
                y=y,
                height=round(bottom - y, 2),
                center=round(x + slot / 2, 2),
                label=f"{day_label(day)}: {value:,} {one if value == 1 else unit}",
                value_y=round(max(y - 5, TOP - 6), 2),
            )
        )
    every = max(1, math.ceil(len(series) / MAX_X_LABELS))
    x_ticks = [
        Tick(round((i + 0.5) * slot, 2), day_label(day))
        for i, (day, _) in enumerate(series)
        if i % every == 0
    ]
    y_ticks = [Tick(y_of(n * step), _number(n * step)) for n in range(steps + 1)]
    total = sum(values)
    if series:
        first, last = day_label(series[0][0]), day_label(series[-1][0])
        name = unit[:1].upper() + unit[1:]
        summary = f"{name} per {per}, {first} to {last}: {total:,} in all, at most {peak:,} a {per}."
        if not summed:
            summary = f"{name} per {per}, {first} to {last}: at most {peak:,}, at least {min(values):,}."
    else:
        summary = f"No {unit} yet."
    return BarChart(
        height=height,
        top=TOP,
        bottom=bottom,
        bars=bars,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        limit_y=y_of(limit) if limit else None,
        limit_label=limit_label,
        total=total,
        peak=peak,
        summary=summary,
        summed=summed,
    )


# --- heat map ------------------------------------------------------------------------------

HEAT_ROW = 24  # px per row
HEAT_LEVELS = 5  # shades above "none" (classes l0..l5 in app.css)
HEAT_X_EVERY = 3  # an hour label every this many hours


@dataclass(frozen=True)
class HeatCell:
    row: int
    column: int
    value: int
    x: float  # % of the plot's width
    width: float
    y: float  # px from the top
    level: int  # 0 (none) .. HEAT_LEVELS (the busiest)
    label: str  # "Mon 14:00-15:00: 12 visitor messages"


@dataclass(frozen=True)
class HeatMap:
    height: int
    row_height: int
    cells: list[HeatCell]
    rows: list[Tick]  # y (px, the row's middle) and its name
    columns: list[Tick]  # x (% of the width, the column's left edge) and its name
    bottom: float  # y of the column labels
    peak: int
    total: int
    summary: str
    table: list[tuple[str, list[int]]]  # the numbers, row by row

    @property
    def legend(self) -> list[int]:
        return list(range(HEAT_LEVELS + 1))

    @property
    def hours(self) -> list[int]:
        return list(range(24))

    @property
    def cells_markup(self) -> SafeString:
        """Each cell: focusable, its value in its title and label, its shade a class."""
        return _joined(
            format_html(
                HEAT_CELL,
                label=cell.label,
                level=cell.level,
                x=cell.x,
                y=cell.y,
                width=cell.width,
                height=self.row_height,
            )
            for cell in self.cells
        )

    @property
    def table_markup(self) -> SafeString:
        """The numbers, a table row a weekday."""
        return _joined(
            format_html(
                '<tr><th scope="row">{}</th>{}</tr>',
                name,
                _joined(format_html('<td class="num">{}</td>', v) for v in values),
            )
            for name, values in self.table
        )


HEAT_CELL = (
    '<g class="cell" tabindex="0" role="img" aria-label="{label}"><title>{label}</title>'
    '<rect class="l{level}" x="{x}%" y="{y}" width="{width}%" height="{height}"></rect></g>\n'
)


def heat_map(grid: Sequence[Sequence[int]], *, rows: Sequence[str], unit: str, unit_one: str = "") -> HeatMap:
    """The geometry of a weekday-by-hour heat map: ``grid[row][hour]`` counts (24 columns).

    A cell's shade is its value's share of the busiest cell's, in ``HEAT_LEVELS`` steps (an
    empty cell is level 0, any non-empty one at least level 1)."""
    one = unit_one or unit
    peak = max((v for row in grid for v in row), default=0)
    width = 100 / 24
    cells = []
    for r, values in enumerate(grid):
        for h, value in enumerate(values):
            level = 0 if not value else max(1, math.ceil(HEAT_LEVELS * value / peak))
            cells.append(
                HeatCell(
                    row=r,
                    column=h,
                    value=value,
                    x=round(h * width, 3),
                    width=round(width, 3),
                    y=r * HEAT_ROW,
                    level=level,
                    label=f"{rows[r]} {h:02d}:00\N{EN DASH}{(h + 1) % 24:02d}:00: "
                    f"{value:,} {one if value == 1 else unit}",
                )
            )
    bottom = len(grid) * HEAT_ROW
    total = sum(sum(row) for row in grid)
    busiest = max(cells, key=lambda c: c.value, default=None)
    if busiest and busiest.value:
        summary = (
            f"{unit[:1].upper() + unit[1:]} by weekday and hour: {total:,} in all; the busiest hour is "
            f"{rows[busiest.row]} {busiest.column:02d}:00 with {busiest.value:,}."
        )
    else:
        summary = f"No {unit} in this period."
    return HeatMap(
        height=bottom + BOTTOM,
        row_height=HEAT_ROW,
        cells=cells,
        rows=[Tick(r * HEAT_ROW + HEAT_ROW / 2, name) for r, name in enumerate(rows)],
        columns=[Tick(round(h * width, 3), f"{h:02d}") for h in range(0, 24, HEAT_X_EVERY)],
        bottom=bottom + 16,
        peak=peak,
        total=total,
        summary=summary,
        table=[(rows[r], list(values)) for r, values in enumerate(grid)],
    )
