"""ui.charts: the geometry of the server-drawn bar chart (no database, no browser)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ui.charts import bar_chart, day_label, nice_step


def _days(values, start=date(2026, 12, 1)):
    return [(start + timedelta(days=i), v) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("peak", "step"), [(0, 1), (3, 1), (4, 1), (5, 2), (9, 5), (42, 20), (100, 50), (101, 50), (2001, 1000)]
)
def test_ticks_are_steps_of_one_two_or_five(peak, step):
    assert nice_step(peak) == step
    assert step * 4 >= peak


def test_bars_axes_and_labels():
    chart = bar_chart(_days([0, 42, 10]), unit="AI answers", unit_one="AI answer")
    # y axis: 0, 20, 40, 60 — from the x axis up, the top tick at or over the peak
    assert [t.text for t in chart.y_ticks] == ["0", "20", "40", "60"]
    assert chart.y_ticks[0].position == chart.bottom
    assert chart.y_ticks[-1].position == chart.top
    zero, peak, _ten = chart.bars
    assert zero.height == 0 and zero.y == chart.bottom
    assert peak.height == pytest.approx(chart.plot_height * 42 / 60, abs=0.01)
    assert peak.y + peak.height == pytest.approx(chart.bottom)
    # columns share the width: percentages of the plot, side by side, nothing past 100 %
    assert [b.x for b in chart.bars] == pytest.approx([0, 33.33, 66.67], abs=0.01)
    assert chart.bars[-1].x + chart.bars[-1].width == pytest.approx(100, abs=0.02)
    assert all(b.bar_x > b.x and b.bar_x + b.bar_width < b.x + b.width for b in chart.bars)
    # every day has its hover and keyboard label, singular where it is one
    assert peak.label == "2 Dec: 42 AI answers"
    one = bar_chart(_days([1]), unit="AI answers", unit_one="AI answer")
    assert one.bars[0].label == "1 Dec: 1 AI answer"
    assert [t.text for t in chart.x_ticks] == ["1 Dec", "2 Dec", "3 Dec"]
    assert chart.total == 52 and chart.peak == 42
    assert chart.summary == "AI answers per day, 1 Dec to 3 Dec: 52 in all, at most 42 a day."
    assert chart.limit_y is None


def test_at_most_six_dates_on_the_x_axis_evenly_spaced():
    chart = bar_chart(_days([1] * 31), unit="conversations")
    assert len(chart.x_ticks) <= 6
    assert chart.x_ticks[0].text == "1 Dec"
    gaps = [b.position - a.position for a, b in zip(chart.x_ticks, chart.x_ticks[1:], strict=False)]
    assert max(gaps) - min(gaps) < 0.05


def test_the_limit_line_is_inside_the_axis():
    chart = bar_chart(_days([1, 2]), unit="AI answers", limit=3.3, limit_label="Pace")
    assert chart.y_ticks[-1].text == "4"  # the axis reaches the limit, not only the bars
    assert chart.top <= chart.limit_y < chart.bottom
    assert chart.limit_y == pytest.approx(chart.bottom - chart.plot_height * 3.3 / 4, abs=0.01)


def test_empty_and_all_zero_series_draw_an_axis():
    assert bar_chart([], unit="AI answers").summary == "No AI answers yet."
    flat = bar_chart(_days([0, 0]), unit="AI answers")
    assert [t.text for t in flat.y_ticks] == ["0", "1"] and all(b.height == 0 for b in flat.bars)


def test_day_label_has_no_leading_zero():
    assert day_label(date(2026, 12, 3)) == "3 Dec"


def test_a_heat_map_shades_each_hour_by_its_share_of_the_busiest():
    from ui.charts import HEAT_LEVELS, heat_map

    grid = [[0] * 24 for _ in range(7)]
    grid[0][9], grid[0][10], grid[4][23] = 10, 1, 5
    heat = heat_map(
        grid, rows=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], unit="messages", unit_one="message"
    )
    cells = {(c.row, c.column): c for c in heat.cells}
    assert len(heat.cells) == 7 * 24 and heat.total == 16 and heat.peak == 10
    assert cells[(0, 9)].level == HEAT_LEVELS and cells[(0, 10)].level == 1 and cells[(4, 23)].level == 3
    assert cells[(1, 0)].level == 0
    assert cells[(0, 10)].label == "Mon 10:00\N{EN DASH}11:00: 1 message"
    assert cells[(4, 23)].label == "Fri 23:00\N{EN DASH}00:00: 5 messages"
    assert cells[(0, 9)].x == 37.5 and cells[(4, 23)].y == 4 * heat.row_height
    assert heat.summary.endswith("the busiest hour is Mon 09:00 with 10.")
    assert [t.text for t in heat.columns] == ["00", "03", "06", "09", "12", "15", "18", "21"]
    assert heat_map([[0] * 24], rows=["Mon"], unit="messages").summary == "No messages in this period."


def test_bars_of_a_week_say_so():
    chart = bar_chart([(date(2030, 1, 6), 3), (date(2030, 1, 13), 9)], unit="conversations", per="week")
    assert chart.summary == "Conversations per week, 6 Jan to 13 Jan: 12 in all, at most 9 a week."


def test_a_rate_is_not_summed():
    chart = bar_chart([(date(2030, 1, 1), 100), (date(2030, 1, 2), 50)], unit="% passing", summed=False)
    assert chart.summary == "% passing per day, 1 Jan to 2 Jan: at most 100, at least 50."
    assert not chart.summed and bar_chart([], unit="x").summed


def test_the_bars_and_cells_are_written_as_escaped_markup():
    from ui.charts import heat_map

    chart = bar_chart(_days([0, 3]), unit="<b>answers</b>", unit_one="answer")
    bars = str(chart.bars_markup)
    assert bars.count('<g class="col"') == 2
    assert bars.count('<rect class="bar"') == 1  # a day of nothing is only its column
    assert 'aria-label="2 Dec: 3 &lt;b&gt;answers&lt;/b&gt;"' in bars and "<b>" not in bars
    second = chart.bars[1]
    assert f'<rect class="bar" x="{second.bar_x}%" y="{second.y}" width="{second.bar_width}%"' in bars
    assert ">2 Dec \N{MIDDLE DOT} 3</text>" in bars
    assert str(chart.rows_markup) == (
        '<tr><td>Tue 1 Dec</td><td class="num">0</td></tr><tr><td>Wed 2 Dec</td><td class="num">3</td></tr>'
    )

    heat = heat_map([[h for h in range(24)] for _ in range(7)], rows=list("MTWTFS<"), unit="messages")
    cells = str(heat.cells_markup)
    assert cells.count('<g class="cell"') == 7 * 24 and cells.count('class="l0"') == 7
    assert 'aria-label="&lt; 23:00\N{EN DASH}00:00: 23 messages"' in cells
    table = str(heat.table_markup)
    assert table.count("<tr>") == 7 and '<th scope="row">&lt;</th>' in table
