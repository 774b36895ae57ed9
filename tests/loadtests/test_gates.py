"""The gate evaluator: pass, fail on a threshold, on a baseline regression, on an audit."""

import json

import pytest

from loadtests.gates import (
    AuditResult,
    baseline_load,
    baseline_snapshot,
    baseline_write,
    gates_evaluate,
    gates_load,
    verdict,
)
from loadtests.results import Event, PhaseSpan, RunResults, results_read

T0 = 1_000_000.0
CLEAN = [AuditResult("audit_orders", True), AuditResult("cache_audit", True)]
GATES = {
    "min_requests": 10,
    "error_budget": 0.01,
    "checkout_completion_min": 0.995,
    "shed_ratio_max": 0.2,
    "p95_ms": {"browse": 100, "buy": 300},
    "p95_ratio": {"browse": {"phase": "spike", "over": "baseline", "max": 2.0}},
    "baseline_tolerance": 0.5,
    "baseline_slack_ms": 10,
}


def _run(
    *,
    browse_ms: float = 40,
    spike_browse_ms: float | None = None,
    errors: int = 0,
    shed: int = 0,
    failed_orders: int = 0,
) -> RunResults:
    """100 s of browsing (baseline, then spike) and 20 orders, as the recorder logs them."""
    events = []
    for second in range(100):
        ms = spike_browse_ms if spike_browse_ms is not None and second >= 50 else browse_ms
        events.append(Event(T0 + second, "browse", "[browse] /", ms, "ok"))
    events += [Event(T0 + 60, "browse", "[browse] /", 900, "error") for _ in range(errors)]
    events += [Event(T0 + 70, "bot", "[bot] /api/v1/carts/", 1, "shed") for _ in range(shed)]
    for index in range(20):
        outcome = "error" if index < failed_orders else "ok"
        events.append(Event(T0 + index, "buy", "[buy] /api/v1/orders/", 200, outcome))
    events.append(Event(T0 + 30, "buy", "[buy] /api/v1/orders/", 150, "refused"))
    phases = [PhaseSpan("baseline", 0, 50, 6), PhaseSpan("spike", 50, 100, 60)]
    return RunResults("spike", T0, 100.0, events, phases, users=[(0, 6), (50, 60)])


def _failed(rows) -> dict[str, str]:
    return {row.gate: row.value for row in rows if row.failed}


def test_a_healthy_run_passes_every_gate():
    rows = gates_evaluate(_run(), GATES, audits=CLEAN, baseline=None)

    assert verdict(rows)
    assert _failed(rows) == {}
    statuses = {row.gate: row.status for row in rows}
    assert statuses["checkout completion"] == "pass"
    assert statuses["browse p95 spike / baseline"] == "pass"
    assert statuses["baseline"] == "skipped"


def test_a_p95_over_its_threshold_fails():
    rows = gates_evaluate(_run(browse_ms=150), GATES, audits=CLEAN, baseline=None)

    assert not verdict(rows)
    assert _failed(rows) == {"browse p95 ms": "150"}


def test_a_spike_slower_than_twice_the_baseline_fails():
    rows = gates_evaluate(_run(spike_browse_ms=90), GATES, audits=CLEAN, baseline=None)

    assert _failed(rows) == {"browse p95 spike / baseline": "2.25"}


def test_errors_over_budget_and_failed_checkouts_fail_but_shed_and_refusals_do_not():
    # given shed bot requests and an expected refusal: neither is an error
    assert verdict(gates_evaluate(_run(shed=5), GATES, audits=CLEAN, baseline=None))

    # when browse errors pass the budget and an order fails
    rows = gates_evaluate(_run(errors=3, failed_orders=1), GATES, audits=CLEAN, baseline=None)

    # then both gates fail; completion counts placed over admitted non-refused attempts
    failed = _failed(rows)
    assert failed["browse error rate"] == "2.91%"
    assert failed["checkout completion"] == "95.00%"


def test_too_much_shedding_fails():
    rows = gates_evaluate(_run(shed=40), GATES, audits=CLEAN, baseline=None)

    assert "shed ratio" in _failed(rows)


def test_a_regression_against_the_baseline_fails_even_within_absolute_limits():
    # given a baseline at 40 ms browse p95
    baseline = baseline_snapshot(_run(browse_ms=40))

    # when browse gets slower, still under its 100 ms limit, but past 40 * 1.5 + 10
    rows = gates_evaluate(_run(browse_ms=75), GATES, audits=CLEAN, baseline=baseline)

    # then the baseline comparison alone fails the run
    assert _failed(rows) == {"baseline browse p95 ms": "75"}
    # and within the tolerance it passes
    assert verdict(gates_evaluate(_run(browse_ms=65), GATES, audits=CLEAN, baseline=baseline))


def test_an_audit_violation_fails_and_a_missing_audit_is_skipped():
    audits = [
        AuditResult("audit_orders", False, "2 orders stuck"),
        AuditResult("cache_audit", None),
    ]

    rows = gates_evaluate(_run(), GATES, audits=audits, baseline=None)

    assert _failed(rows) == {"audit audit_orders": "violations"}
    assert {row.gate: row.status for row in rows}["audit cache_audit"] == "skipped"


def test_missing_metrics_skip_the_query_gates_instead_of_passing_them():
    gates = {**GATES, "queries_per_request": {"pages:home": 10}}

    rows = gates_evaluate(_run(), gates, audits=CLEAN, baseline=None)

    assert {row.gate: row.status for row in rows}["queries/request pages:home"] == "skipped"


def test_queries_per_request_come_from_the_metrics_scrapes():
    run = _run()
    key_sum = 'peakstore_http_request_queries_sum{route="pages:home"}'
    key_count = 'peakstore_http_request_queries_count{route="pages:home"}'
    run.metrics = [
        (T0, {key_sum: 10.0, key_count: 2.0}),
        (T0 + 50, {key_sum: 130.0, key_count: 12.0}),
    ]
    gates = {**GATES, "queries_per_request": {"pages:home": 10}}

    rows = gates_evaluate(run, gates, audits=CLEAN, baseline=None)

    assert run.queries_per_request() == {"pages:home": 12.0}
    assert _failed(rows) == {"queries/request pages:home": "12.0"}


def test_the_versioned_gates_merge_a_scenario_over_the_defaults():
    gates = gates_load("campaign-spike")

    assert gates["p95_ratio"]["browse"] == {"phase": "spike", "over": "baseline", "max": 2.0}
    assert gates["error_budget"] == 0.01  # from the defaults
    assert gates["p95_ms"]["browse"] > 0


def test_baselines_round_trip(tmp_path):
    run = _run()

    path = baseline_write(run, directory=tmp_path)

    assert path.name == "spike.json"
    assert baseline_load("spike", directory=tmp_path) == json.loads(path.read_text())
    assert baseline_load("other", directory=tmp_path) is None


def test_a_results_folder_reads_back_what_the_recorder_wrote(tmp_path):
    (tmp_path / "events.csv").write_text(
        "t,journey,name,ms,outcome\n"
        f"{T0 + 1},browse,[browse] /,12.5,ok\n"
        f"{T0 + 2},bot,[bot] /api/v1/carts/,0.8,shed\n"
    )
    (tmp_path / "users.csv").write_text(f"t,users,phase\n{T0 + 1},3,steady\n")
    phases = [{"name": "steady", "start_s": 0, "end_s": 10, "users": 3}]
    (tmp_path / "phases.json").write_text(
        json.dumps({"started_at": T0, "duration_s": 10, "phases": phases})
    )

    results = results_read(tmp_path, scenario="smoke")

    assert results.journeys() == ["bot", "browse"]
    assert results.overall().shed == 1
    assert results.overall("browse").p95_ms == pytest.approx(12.5)
    assert results.users == [(1.0, 3)]
    assert results.in_phase("steady").requests == 2
