"""One run, one p95: reports, summaries, gates and benchmarks agree on the same samples.

The samples are chosen so the usual definitions disagree on them (200 of them: 0.95 x
200 is a whole rank, where Locust's rule, `statistics.quantiles` and numpy's default all
answer another p95), so a second definition anywhere fails here.
"""

import random

import pytest

from devstack.loadrun import summarize
from devstack.management.commands.bench_product_page import _summary as bench_summary
from loadtests.gates import baseline_snapshot, gates_evaluate
from loadtests.outcomes import OK
from loadtests.report import report_json
from loadtests.results import Event, RunResults
from perfstats.quantiles import histogram_quantile, percentile
from releases.gates import CohortTotals
from storefront.ops.dashboard import dashboard_data
from storefront.ops.readings import Reading, RouteReading
from storefront.ownership import MANIFEST

T0 = 1_000.0
_rng = random.Random(17)
SAMPLES_MS = [round(_rng.lognormvariate(4.0, 0.6), 1) for _ in range(200)]
P95_MS = percentile(SAMPLES_MS, 0.95)
BOUNDS_S = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, float("inf"))


def _run() -> RunResults:
    events = [
        Event(T0 + index * 0.05, "browse", "[browse] /", ms, OK)
        for index, ms in enumerate(SAMPLES_MS)
    ]
    return RunResults("smoke", T0, 10.0, events, phases=[], users=[])


def _cumulative_buckets() -> tuple[tuple[float, float], ...]:
    return tuple((bound, float(sum(ms / 1000 <= bound for ms in SAMPLES_MS))) for bound in BOUNDS_S)


def test_the_samples_tell_the_definitions_apart():
    ordered = sorted(SAMPLES_MS)

    assert ordered[189] != ordered[190]  # nearest rank (190th) against Locust's (191st)
    assert ordered[189] == P95_MS


def test_summary_report_baseline_and_gate_read_the_same_p95_from_one_run():
    run = _run()

    summary = summarize(run)  # summary.json
    report = report_json(run, [], baseline=None, meta={})  # report.json
    baseline = baseline_snapshot(run)  # what --record-baseline keeps

    assert summary.journeys[0].p95_ms == P95_MS
    assert report["journeys"]["browse"]["p95_ms"] == P95_MS
    assert baseline["journeys"]["browse"]["p95_ms"] == P95_MS
    # the p95 gate passes at exactly that p95, and fails a hair below it
    for limit, status in ((P95_MS, "pass"), (P95_MS - 0.1, "fail")):
        rows = gates_evaluate(run, {"p95_ms": {"browse": limit}}, audits=[], baseline=None)
        assert next(row for row in rows if row.gate == "browse p95 ms").status == status


def test_a_benchmark_reports_the_same_p95_for_the_same_samples():
    latencies_s = [ms / 1000 for ms in SAMPLES_MS]

    measured = bench_summary(latencies_s, errors=0)

    assert measured["p95_ms"] == pytest.approx(P95_MS, abs=0.05)
    assert measured["p50_ms"] == pytest.approx(percentile(SAMPLES_MS, 0.50), abs=0.05)


def test_the_dashboard_and_the_release_gate_read_the_same_p95_from_one_histogram():
    buckets = _cumulative_buckets()
    expected_s = histogram_quantile(0.95, buckets)
    route = RouteReading(buckets=list(buckets), count=float(len(SAMPLES_MS)))

    dashboard = dashboard_data([], Reading(at=60.0, routes={"pages:product": route}), MANIFEST)
    cohort = CohortTotals(requests=float(len(SAMPLES_MS)), buckets=buckets).minus(None)

    assert expected_s is not None
    assert dashboard["routes"][0]["p95_ms"] == round(expected_s * 1000, 1)
    assert cohort.p95_s == expected_s
