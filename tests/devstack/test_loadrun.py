"""The runner's reading of Locust's stats: per journey and total, and its verdict."""

from collections import Counter

import pytest

from devstack.loadrun import percentile, summarize, summary_table
from loadtests.scenarios import SCENARIOS, scenario_get
from loadtests.shapes import plan_for


def _entry(name: str, times_ms: dict[int, int], failures: int = 0, span=(100.0, 110.0)) -> dict:
    """One entry as Locust's --json-file writes it (response time keys are strings)."""
    return {
        "name": name,
        "method": "GET",
        "start_time": span[0],
        "last_request_timestamp": span[1],
        "num_requests": sum(times_ms.values()),
        "num_failures": failures,
        "response_times": {str(ms): count for ms, count in times_ms.items()},
    }


def test_percentile_follows_locusts_rule():
    histogram = Counter({10: 90, 100: 9, 1000: 1})

    assert percentile(histogram, 0.50) == 10
    assert percentile(histogram, 0.95) == 100
    assert percentile(histogram, 0.99) == 1000  # of 100 requests, p99 is the slowest
    assert percentile(histogram, 1.00) == 1000
    assert percentile(Counter(), 0.95) == 0


def test_summary_merges_entries_per_journey_and_in_total():
    # given two browse entries and one buy entry over a 10 s run
    entries = [
        _entry("[browse] /", {10: 50}),
        _entry("[browse] /p/[slug]/", {20: 40, 200: 10}, failures=1),
        _entry("[buy] /api/v1/orders/", {50: 20}, span=(102.0, 110.0)),
    ]

    # when summarized
    summary = summarize("demo", entries)

    # then each journey has its own figures, and the total merges them all
    browse, buy = summary.journeys
    assert (browse.name, browse.requests, browse.failures) == ("browse", 100, 1)
    assert (browse.p50_ms, browse.p95_ms) == (20, 200)
    assert (buy.name, buy.requests, buy.p99_ms) == ("buy", 20, 50)
    assert summary.total.requests == 120
    assert summary.total.rps == pytest.approx(12.0)
    assert summary.duration_s == 10.0
    assert summary.error_rate == pytest.approx(1 / 120)
    assert "browse" in summary_table(summary)


def test_shed_requests_are_left_out_of_the_summary():
    entries = [_entry("[bot] /api/v1/carts/", {1: 50}), _entry("[bot] /api/v1/carts/", {80: 10})]
    entries[0]["method"] = "SHED"

    summary = summarize("smoke", entries)

    assert summary.total.requests == 10
    assert summary.total.p50_ms == 80


def test_verdict_counts_user_code_exceptions_as_errors():
    entries = [_entry("[browse] /", {10: 99}, failures=0)]

    assert summarize("smoke", entries).passed(error_budget=0.01)
    assert not summarize("smoke", entries, exceptions=2).passed(error_budget=0.01)


def test_a_run_without_requests_fails():
    assert not summarize("smoke", []).passed(error_budget=0.01)


def test_scenarios_are_bounded_in_users_time_and_requests():
    for scenario in SCENARIOS.values():
        assert 0 < scenario.users <= 100
        assert 0 < scenario.run_time_s <= 3600
        assert 0 < scenario.max_requests <= 1_000_000
        # every scenario's shape fits its duration
        assert plan_for(scenario.shape, users=scenario.users, duration_s=scenario.run_time_s)
    ci = [scenario for scenario in SCENARIOS.values() if scenario.ci]
    assert [scenario.name for scenario in ci] == ["smoke"]
    assert all(scenario.run_time_s <= 60 for scenario in ci)
    with pytest.raises(KeyError, match="known scenarios"):
        scenario_get("nope")
