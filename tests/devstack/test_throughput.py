"""bench_throughput's arithmetic: per-round ratios, medians, shed share, CPU, the verdict."""

import pytest

from devstack.throughput import (
    Measurement,
    median_ratio,
    rows_summarize,
    table_format,
    targets_missed,
)
from devstack.wrk import WrkResult


def _result(good: int, *, shed: int = 0, other: int = 0, p99_ms: float = 5.0) -> WrkResult:
    return WrkResult(
        good=good, shed=shed, other=other, socket_errors=0, duration_s=2.0, p99_ms=p99_ms
    )


def _cell(
    round_number: int,
    *,
    bare: int,
    plain: int,
    click: int,
    page: str = "category",
    shed: int = 0,
    connections: int = 4,
) -> list[Measurement]:
    """One round of one (page, connections) cell: bare, plain and click, 2 s each."""

    def run(side: str, form: str, good: int, shed: int = 0) -> Measurement:
        answered = good + shed
        return Measurement(
            round=round_number,
            side=side,
            page=page,
            form=form,
            connections=connections,
            result=_result(good, shed=shed),
            # 100 us of CPU per answer for bare, 300 us for the store.
            cpu_s=answered * (100e-6 if side == "bare" else 300e-6),
        )

    return [
        run("bare", "plain", bare),
        run("store", "plain", plain, shed),
        run("store", "click", click, shed),
    ]


def test_median_ratio_skips_rounds_with_nothing_to_divide_by():
    assert median_ratio([1.0, 3.0, 5.0], [2.0, 0.0, 10.0]) == pytest.approx(0.5)
    assert median_ratio([1.0], [0.0]) is None


def test_the_ratio_is_the_median_of_per_round_ratios_not_the_ratio_of_medians():
    # Given three rounds whose load drifted: bare and store move together.
    measurements = [
        *_cell(0, bare=4000, plain=2400, click=2400),
        *_cell(1, bare=1000, plain=700, click=700),
        *_cell(2, bare=3000, plain=1500, click=1500),
    ]

    # When they are summarized.
    plain, click = rows_summarize(measurements)

    # Then each round's store/bare counts: 0.6, 0.7, 0.5 -> 0.6 (medians alone give 0.5).
    assert (plain.form, click.form) == ("plain", "click")
    assert plain.ratio == pytest.approx(0.6)
    assert plain.store_good_per_s == pytest.approx(1500 / 2.0)
    assert plain.bare_good_per_s == pytest.approx(3000 / 2.0)
    assert click.click_ratio == pytest.approx(1.0)
    assert plain.click_ratio is None
    assert plain.store_cpu_us == pytest.approx(300.0)
    assert plain.bare_cpu_us == pytest.approx(100.0)


def test_a_page_at_target_with_nothing_shed_passes():
    rows = rows_summarize(_cell(0, bare=1000, plain=600, click=560))

    assert targets_missed(rows) == []


def test_under_target_shed_and_costly_click_ids_are_each_reported():
    # Given a page under 0.6 of bare, shedding, whose click ids cost a third of its rate.
    rows = rows_summarize(_cell(0, bare=1000, plain=300, click=200, shed=100))

    # When judged.
    missed = targets_missed(rows)

    # Then every missed target is named with its cell.
    assert "category (plain) at 4 connections: store/bare 0.300, target >= 0.6" in missed
    assert "category (plain) at 4 connections: 25.0% shed, target 0%" in missed
    assert "category (click) at 4 connections: click id/plain 0.667, target >= 0.9" in missed


def test_everything_shed_is_a_miss_even_without_a_click_ratio():
    rows = rows_summarize(_cell(0, bare=1000, plain=0, click=0, shed=500, connections=16))

    missed = targets_missed(rows)

    assert "category (click) at 16 connections: click id/plain n/a, target >= 0.9" in missed
    assert "category (plain) at 16 connections: 100.0% shed, target 0%" in missed


def test_robots_has_its_own_target():
    rows = rows_summarize(_cell(0, bare=1000, plain=650, click=650, page="robots"))

    assert targets_missed(rows) == [
        "robots (plain) at 4 connections: store/bare 0.650, target >= 0.7"
    ]


def test_rows_come_in_page_then_concurrency_order_and_the_table_has_one_line_each():
    measurements = [
        *_cell(0, bare=1000, plain=700, click=700, page="robots", connections=4),
        *_cell(0, bare=1000, plain=700, click=700, page="product", connections=64),
        *_cell(0, bare=1000, plain=700, click=700, page="product", connections=4),
    ]

    rows = rows_summarize(measurements)

    assert [(row.page, row.connections, row.form) for row in rows] == [
        ("product", 4, "plain"),
        ("product", 4, "click"),
        ("product", 64, "plain"),
        ("product", 64, "click"),
        ("robots", 4, "plain"),
        ("robots", 4, "click"),
    ]
    assert len(table_format(rows).splitlines()) == 2 + len(rows)
