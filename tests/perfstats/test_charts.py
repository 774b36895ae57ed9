"""SVG charts as text: the report's line chart, the dashboard's sparklines and bars."""

from dataclasses import dataclass

from perfstats.charts import bar, line_chart, nice_max, sparkline


@dataclass(frozen=True)
class Phase:
    name: str
    start_s: float
    end_s: float


def test_a_line_chart_draws_each_series_with_a_legend_and_the_phases_as_bands():
    svg = line_chart(
        "p95 latency",
        {"browse": [(0.0, 40.0), (30.0, 80.0)], "limit": [(0.0, 100.0), (60.0, 100.0)]},
        duration_s=60,
        phases=[Phase("baseline", 0, 30), Phase("spike", 30, 60)],
        unit=" ms",
        dashed={"limit"},
    )

    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert svg.count("<polyline") == 2
    assert svg.count('stroke-dasharray="6 4"') == 1
    assert ">baseline</text>" in svg
    assert ">spike</text>" in svg
    assert ">browse</text>" in svg
    assert ">limit</text>" in svg
    assert ">100 ms</text>" in svg  # the value axis reaches the highest point


def test_a_chart_without_data_says_so_instead_of_drawing_nothing():
    svg = line_chart("Cache hit ratio", {"hit ratio": []}, duration_s=60)

    assert "no data in this run" in svg
    assert "<polyline" not in svg


def test_every_text_a_chart_draws_is_escaped():
    svg = line_chart("<b>", {"a&b": [(0.0, 1.0)]}, duration_s=1, markers=[(0.5, "<x>")])

    assert "<b>" not in svg
    assert "&lt;b&gt;" in svg
    assert "a&amp;b" in svg
    assert "&lt;x&gt;" in svg


def test_a_sparkline_marks_points_over_its_threshold_and_leaves_gaps():
    svg = sparkline([100.0, None, 300.0, 150.0], threshold=200.0)

    assert svg.count("<circle") == 1  # only 300 is over the SLO
    assert 'stroke-dasharray="4 3"' in svg
    assert svg.count(",") == 3  # three points drawn: the gap is skipped


def test_a_sparkline_with_nothing_measured_says_it_is_collecting():
    assert "collecting" in sparkline([None, None])
    assert "collecting" in sparkline([1.0])


def test_a_bar_is_filled_to_its_fraction_and_clamped():
    assert '<rect width="55.0" height="18"' in bar(0.25)
    assert '<rect width="220.0" height="18"' in bar(3.0)
    assert '<rect width="0" height="18"' in bar(None)


def test_nice_max_rounds_the_top_of_an_axis_up():
    assert (nice_max(0), nice_max(7), nice_max(130), nice_max(420)) == (1.0, 10.0, 200.0, 500.0)
