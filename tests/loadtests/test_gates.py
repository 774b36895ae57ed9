"""The gate evaluator: pass, fail on a threshold, on a baseline regression, on an audit."""

import json
from dataclasses import replace

import pytest

from loadtests.gates import (
    BASELINES_DIR,
    GATES_FILE,
    AuditResult,
    MachineClass,
    baseline_choose,
    baseline_load,
    baseline_snapshot,
    baseline_write,
    gates_evaluate,
    gates_load,
    verdict,
)
from loadtests.results import RATE_COUNTERS, Event, PhaseSpan, RunResults, results_read

T0 = 1_000_000.0
CLEAN = [AuditResult("audit_orders", True), AuditResult("cache_audit", True)]
# Each request name's route SLO, as the runner writes them into slos.json.
SLOS = {"[browse] /": 200.0, "[bot] /api/v1/carts/": 250.0, "[buy] /api/v1/orders/": 1000.0}
GATES = {
    "min_requests": 10,
    "error_budget": 0.01,
    "checkout_completion_min": 0.995,
    "p95_ms": {"browse": 100, "buy": 300},
    "slo_attainment_min": {"browse": 0.95, "buy": 0.95},
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
    browse_shed: int = 0,
    failed_orders: int = 0,
) -> RunResults:
    """100 s of browsing (baseline, then spike) and 20 orders, as the recorder logs them.

    `shed` bot requests and `browse_shed` browse requests are turned away at the spike.
    """
    events = []
    for second in range(100 - browse_shed):
        ms = spike_browse_ms if spike_browse_ms is not None and second >= 50 else browse_ms
        events.append(Event(T0 + second, "browse", "[browse] /", ms, "ok"))
    events += [Event(T0 + 60, "browse", "[browse] /", 900, "error") for _ in range(errors)]
    events += [Event(T0 + 70, "bot", "[bot] /api/v1/carts/", 1, "shed") for _ in range(shed)]
    events += [Event(T0 + 80, "browse", "[browse] /", 1, "shed") for _ in range(browse_shed)]
    for index in range(20):
        outcome = "error" if index < failed_orders else "ok"
        events.append(Event(T0 + index, "buy", "[buy] /api/v1/orders/", 200, outcome))
    events.append(Event(T0 + 30, "buy", "[buy] /api/v1/orders/", 150, "refused"))
    phases = [PhaseSpan("baseline", 0, 50, 6), PhaseSpan("spike", 50, 100, 60)]
    return RunResults("spike", T0, 100.0, events, phases, users=[(0, 6), (50, 60)], slos=dict(SLOS))


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


def test_shedding_a_tenth_of_browse_fails_attainment_however_fast_the_rest_is():
    # given a run that sheds 10 of 100 offered browse requests and answers the other 90
    # at 40 ms, far inside the route's 200 ms SLO
    run = _run(browse_shed=10)

    rows = gates_evaluate(run, GATES, audits=CLEAN, baseline=None)

    # then the p95 over admitted requests passes, but only 90% of the offered were served
    # within SLO: shedding bought the p95, not the gate
    statuses = {row.gate: row.status for row in rows}
    assert statuses["browse p95 ms"] == "pass"
    assert statuses["browse error rate"] == "pass"
    assert _failed(rows) == {"browse SLO attainment": "90.00%"}
    detail = next(row.detail for row in rows if row.gate == "browse SLO attainment")
    assert "90 of 100 offered within SLO (200 ms)" in detail
    assert "10 shed" in detail
    # and the misses fall where the shedding happened: at the spike
    assert run.slo_attainment("browse", "baseline").ratio == 1.0
    assert run.slo_attainment("browse", "spike").ratio == 0.8


def test_slow_answers_and_errors_miss_the_slo_and_refusals_within_it_meet_it():
    # given browse answers slower than the route's 200 ms SLO, still under the p95 limit
    slow = gates_evaluate(_run(browse_ms=250), {**GATES, "p95_ms": {}}, audits=CLEAN, baseline=None)
    # and 6 browse errors on top of 100 answers within SLO
    failing = gates_evaluate(_run(errors=6), GATES, audits=CLEAN, baseline=None)

    # then both miss their attainment; a refused order (sold out) within SLO still counts
    assert _failed(slow) == {"browse SLO attainment": "0.00%"}
    assert _failed(failing)["browse SLO attainment"] == "94.34%"
    attainment = _run().slo_attainment("buy")
    assert (attainment.offered, attainment.within) == (21, 21)


def test_shedding_a_journey_without_an_attainment_gate_fails_nothing():
    # given bots shed heavily (bots are shed first by design and have no attainment gate)
    rows = gates_evaluate(_run(shed=60), GATES, audits=CLEAN, baseline=None)

    assert verdict(rows)
    assert not any(row.gate.startswith("bot SLO") for row in rows)


def test_attainment_without_route_slos_is_skipped_not_passed():
    run = _run()
    run.slos = {}

    rows = gates_evaluate(run, GATES, audits=CLEAN, baseline=None)

    assert {row.gate: row.status for row in rows}["browse SLO attainment"] == "skipped"


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
    key_sum = 'peakstore_http_request_queries_total{route="pages:home"}'
    key_get = 'peakstore_http_request_duration_seconds_count{method="GET",route="pages:home"}'
    key_head = 'peakstore_http_request_duration_seconds_count{method="HEAD",route="pages:home"}'
    run.metrics = [
        (T0, {key_sum: 10.0, key_get: 2.0, key_head: 0.0}),
        (T0 + 50, {key_sum: 130.0, key_get: 11.0, key_head: 1.0}),
    ]
    gates = {**GATES, "queries_per_request": {"pages:home": 10}}

    rows = gates_evaluate(run, gates, audits=CLEAN, baseline=None)

    assert run.queries_per_request() == {"pages:home": 12.0}
    assert _failed(rows) == {"queries/request pages:home": "12.0"}


def test_a_cache_hit_ratio_gate_counts_one_namespace_stale_hits_included():
    run = _run()

    def events(hit: float, stale: float, miss: float, other_miss: float) -> dict[str, float]:
        key = 'peakstore_cache_events_total{{event="{}",namespace="{}"}}'
        return {
            key.format("hit", "storefront.page"): hit,
            key.format("stale_served", "storefront.page"): stale,
            key.format("miss", "storefront.page"): miss,
            key.format("miss", "catalog.listing"): other_miss,
        }

    # over the run: 50 hits, 10 stale served, 40 misses on pages (others' misses ignored)
    run.metrics = [(T0, events(100, 0, 10, 0)), (T0 + 50, events(150, 10, 50, 999))]
    gates = {**GATES, "cache_hit_ratio_min": {"storefront.page": 0.7, "catalog.none": 0.5}}

    rows = {row.gate: row for row in gates_evaluate(run, gates, audits=CLEAN, baseline=None)}

    assert run.cache_hit_share("storefront.page") == pytest.approx(0.6)
    assert rows["cache hit ratio storefront.page"].status == "fail"
    assert rows["cache hit ratio storefront.page"].value == "60.0%"
    assert rows["cache hit ratio catalog.none"].status == "skipped"


def test_the_versioned_gates_merge_a_scenario_over_the_defaults():
    gates = gates_load("campaign-spike")

    assert gates["p95_ratio"]["browse"] == {"phase": "spike", "over": "baseline", "max": 2.0}
    assert gates["slo_attainment_min"]["browse"] == 0.95
    assert gates["checkout_completion_min"] == 0.995  # from the defaults
    assert gates["error_budget"] == 0.01
    assert gates["p95_ms"]["browse"] > 0


def test_every_key_of_the_versioned_gates_is_one_the_evaluator_reads(tmp_path):
    # given the gates file as committed: every scenario loads
    for scenario in ("smoke", "campaign-spike", "flash-sale", "partial-outage", "soak"):
        assert gates_load(scenario)["slo_attainment_min"]["browse"] >= 0.95

    # when a section names a gate that does not exist
    path = tmp_path / "gates.toml"
    path.write_text(GATES_FILE.read_text() + "\n[scenario.typo]\np95ms = 10\n")

    # then loading any scenario refuses it instead of ignoring a limit nobody reads
    with pytest.raises(ValueError, match=r"\[scenario.typo\] has unknown gates: p95ms"):
        gates_load("smoke", path=path)


SMALL = MachineClass(cores=2, memory_gib=8, profile="services", calibration_rps=500.0)
LARGE = MachineClass(cores=8, memory_gib=32, profile="services", calibration_rps=2000.0)


def test_a_baseline_keeps_one_entry_per_machine_class(tmp_path):
    # given a baseline recorded on a small runner, then one on a large runner
    baseline_write(_run(browse_ms=80), SMALL, directory=tmp_path)
    path = baseline_write(_run(browse_ms=20), LARGE, directory=tmp_path)

    # when the small runner records again
    baseline_write(_run(browse_ms=60), SMALL, directory=tmp_path)

    # then the file holds both classes, the small one's entry replaced
    document = baseline_load("spike", directory=tmp_path)
    assert path.name == "spike.json"
    assert document == json.loads(path.read_text())
    assert document["version"] == 2
    by_class = {MachineClass.from_dict(e["machine"]).key: e for e in document["classes"]}
    assert sorted(by_class) == ["2-cores-8-gib-services", "8-cores-32-gib-services"]
    assert by_class[SMALL.key]["journeys"]["browse"]["p95_ms"] == 60
    assert by_class[SMALL.key]["machine"]["calibration_rps"] == 500.0
    assert baseline_load("other", directory=tmp_path) is None


def test_a_run_is_held_to_its_own_machine_class_first(tmp_path):
    baseline_write(_run(browse_ms=80), SMALL, directory=tmp_path)
    baseline_write(_run(browse_ms=20), LARGE, directory=tmp_path)
    document = baseline_load("spike", directory=tmp_path)

    chosen = baseline_choose(document, SMALL)

    assert chosen["journeys"]["browse"]["p95_ms"] == 80
    assert chosen["latency_scale"] == 1.0
    assert chosen["match"] == "same machine class (2-cores-8-gib-services)"


def test_its_own_class_measured_slower_now_is_allowed_more_never_less(tmp_path):
    baseline_write(_run(browse_ms=40), SMALL, directory=tmp_path)  # at 500 req/s
    document = baseline_load("spike", directory=tmp_path)

    # given the same class under other load (250 req/s), then on a quiet day (1,000)
    busy = baseline_choose(document, replace(SMALL, calibration_rps=250.0))
    quiet = baseline_choose(document, replace(SMALL, calibration_rps=1000.0))

    # then the busy run's limits double and the quiet run's stay as recorded
    assert busy["latency_scale"] == 2.0
    assert "measured slower now: latencies x2.00" in busy["match"]
    rows = gates_evaluate(_run(browse_ms=75), GATES, audits=CLEAN, baseline=busy)
    assert next(r for r in rows if r.gate == "baseline browse p95 ms").limit == "<= 130"
    assert quiet["latency_scale"] == 1.0
    assert quiet["match"] == "same machine class (2-cores-8-gib-services)"


def test_another_class_is_scaled_by_the_calibration_ratio_and_says_so(tmp_path):
    # given only the large runner's baseline: browse p95 20 ms at 2,000 req/s calibration
    baseline_write(_run(browse_ms=20), LARGE, directory=tmp_path)
    document = baseline_load("spike", directory=tmp_path)

    # when a small runner (500 req/s: four times slower) is judged against it
    chosen = baseline_choose(document, SMALL)
    rows = gates_evaluate(_run(browse_ms=75), GATES, audits=CLEAN, baseline=chosen)

    # then its latency limits are four times the large runner's: 20 * 4 * 1.5 + 10 = 130
    assert chosen["latency_scale"] == 4.0
    assert "scaled to 2-cores-8-gib-services: latencies x4.00" in chosen["match"]
    row = next(r for r in rows if r.gate == "baseline browse p95 ms")
    assert (row.status, row.limit) == ("pass", "<= 130")
    assert "x4.00 (calibration)" in row.detail
    # and unscaled, the same run would have failed the large runner's 20 * 1.5 + 10 = 40
    unscaled = gates_evaluate(
        _run(browse_ms=75), GATES, audits=CLEAN, baseline=baseline_choose(document, LARGE)
    )
    assert _failed(unscaled) == {"baseline browse p95 ms": "75"}


def test_a_baseline_of_another_class_without_calibration_is_skipped_not_used(tmp_path):
    uncalibrated = MachineClass(cores=2, memory_gib=24, profile="embedded")
    baseline_write(_run(browse_ms=20), uncalibrated, directory=tmp_path)

    chosen = baseline_choose(baseline_load("spike", directory=tmp_path), SMALL)
    rows = gates_evaluate(_run(browse_ms=75), GATES, audits=CLEAN, baseline=chosen)

    row = next(r for r in rows if r.gate == "baseline")
    assert row.status == "skipped"
    assert "recorded: 2-cores-24-gib-embedded" in row.detail
    assert verdict(rows)


def test_the_committed_baselines_load_with_their_machine_class():
    for path in BASELINES_DIR.glob("*.json"):
        document = baseline_load(path.stem)
        assert document["scenario"] == path.stem
        for entry in document["classes"]:
            assert MachineClass.from_dict(entry["machine"]).profile in {"embedded", "services"}
            assert entry["journeys"]


def test_a_results_folder_reads_back_what_the_recorder_wrote(tmp_path):
    (tmp_path / "events.csv").write_text(
        "t,journey,name,ms,outcome\n"
        f"{T0 + 1},browse,[browse] /,12.5,ok\n"
        f"{T0 + 2},bot,[bot] /api/v1/carts/,0.8,shed\n"
    )
    (tmp_path / "users.csv").write_text(f"t,users,phase\n{T0 + 1},3,steady\n")
    slos = {"[browse] /": {"route": "pages:home", "slo_ms": 150}}
    (tmp_path / "slos.json").write_text(json.dumps({"requests": slos}))
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
    assert results.slos == {"[browse] /": 150.0}
    assert results.slo_attainment("browse").ratio == 1.0
    assert results.slo_attainment("bot") is None  # no SLO for its request: not judged


# A deploy during the run (`deploy-during-spike`): its markers and the store's metrics.
DEPLOY_GATES = {**GATES, "deploy": {"hit_ratio_recovered_within_s": 60}}
HITS = 'peakstore_cache_events_total{event="hit",namespace="catalog.product"}'
MISSES = 'peakstore_cache_events_total{event="miss",namespace="catalog.product"}'
ERRORS = 'peakstore_cache_events_total{event="error",namespace="catalog.product"}'
BREAKER = 'peakstore_dependency_breaker_state{dependency="reviews",pid="7"}'


def _deployed(*, recovered_after_s: float | None, ok: bool = True, breaker: float = 0.0):
    """A run with a deploy from 40 s to 50 s into it, and cache scrapes every 5 s: 90%
    hits before, 20% from the deploy until `recovered_after_s` past its end, then 90%."""
    run = _run()
    run.deploys = [
        (
            40.0,
            {
                "step": "caches",
                "ok": True,
                "started_at": T0 + 40,
                "finished_at": T0 + 42,
                "detail": "retired by hand: catalog.product",
            },
        ),
        (
            42.0,
            {
                "step": "web",
                "ok": ok,
                "started_at": T0 + 42,
                "finished_at": T0 + 50,
                "detail": "2 old workers replaced by 2 new ones",
            },
        ),
    ]
    hits = misses = 0.0
    run.metrics = []
    for t in range(0, 101, 5):
        back = recovered_after_s is not None and t >= 50 + recovered_after_s
        ratio = 0.9 if t <= 40 or back else 0.2
        hits, misses = hits + 100 * ratio, misses + 100 * (1 - ratio)
        run.metrics.append((T0 + t, {HITS: hits, MISSES: misses, ERRORS: 0.0, BREAKER: breaker}))
    return run


def _statuses(rows) -> dict[str, str]:
    return {row.gate: row.status for row in rows}


def test_a_deploy_whose_cache_recovers_in_time_passes_its_gates():
    rows = gates_evaluate(
        _deployed(recovered_after_s=20), DEPLOY_GATES, audits=CLEAN, baseline=None
    )

    statuses = _statuses(rows)
    assert statuses["deploy steps"] == "pass"
    assert statuses["cache hit ratio back to 90% of before within 60 s"] == "pass"
    assert statuses["breakers opened"] == "pass"
    assert statuses["cache errors"] == "pass"


def test_a_cache_still_cold_a_minute_after_the_deploy_fails():
    rows = gates_evaluate(
        _deployed(recovered_after_s=None), DEPLOY_GATES, audits=CLEAN, baseline=None
    )

    assert _failed(rows) == {"cache hit ratio back to 90% of before within 60 s": "never"}


def test_a_failed_step_an_open_breaker_or_no_deploy_at_all_fails():
    failed_step = gates_evaluate(
        _deployed(recovered_after_s=0, ok=False), DEPLOY_GATES, audits=CLEAN, baseline=None
    )
    tripped = gates_evaluate(
        _deployed(recovered_after_s=0, breaker=2.0), DEPLOY_GATES, audits=CLEAN, baseline=None
    )
    no_deploy = gates_evaluate(_run(), DEPLOY_GATES, audits=CLEAN, baseline=None)

    assert _statuses(failed_step)["deploy steps"] == "fail"
    assert _statuses(tripped)["breakers opened"] == "fail"
    assert _statuses(no_deploy)["deploy steps"] == "fail"


def test_deploy_markers_read_back_from_the_results_folder(tmp_path):
    marker = {
        "deploy": "d1",
        "step": "web",
        "ok": True,
        "started_at": 0.0,
        "finished_at": 1.0,
        "detail": "",
    }
    (tmp_path / "deploys.json").write_text(json.dumps([marker]))

    run = results_read(tmp_path, scenario="deploy-during-spike")

    assert [d["step"] for _, d in run.deploys] == ["web"]


DRIFT_GATES = {**GATES, "drift_found_min": 1.0, "exceptions_open_max": 10}


def _verified(*, found: int, exceptions_open: int) -> list[AuditResult]:
    figures = {
        "drift_injected": 12,
        "drift_found": found,
        "repaired": 12 - exceptions_open,
        "exceptions_open": exceptions_open,
    }
    return [*CLEAN, AuditResult("reconcile_verify", found == 12, "", figures)]


def test_drift_found_in_full_within_the_exception_limit_passes():
    rows = gates_evaluate(
        _run(), DRIFT_GATES, audits=_verified(found=12, exceptions_open=4), baseline=None
    )

    statuses = {row.gate: row.status for row in rows}
    assert statuses["drift found by reconciliation"] == "pass"
    assert statuses["exceptions open after reconciliation"] == "pass"


def test_drift_missed_or_too_many_exceptions_fail():
    missed = gates_evaluate(
        _run(), DRIFT_GATES, audits=_verified(found=11, exceptions_open=4), baseline=None
    )
    crowded = gates_evaluate(
        _run(), DRIFT_GATES, audits=_verified(found=12, exceptions_open=11), baseline=None
    )

    assert _failed(missed)["drift found by reconciliation"] == "91.67%"
    assert _failed(crowded) == {"exceptions open after reconciliation": "11"}


def test_drift_gates_without_injected_drift_are_skipped_not_passed():
    rows = gates_evaluate(_run(), DRIFT_GATES, audits=CLEAN, baseline=None)

    statuses = {row.gate: row.status for row in rows}
    assert statuses["drift_found_min"] == statuses["exceptions_open_max"] == "skipped"


def test_the_reconcile_drift_scenario_gates_load():
    gates = gates_load("reconcile-drift")

    assert gates["drift_found_min"] == 1.0
    assert gates["exceptions_open_max"] > 0


def _recomputes(per_scrape: list[float]) -> RunResults:
    """A run whose /metrics were scraped every 5 s, `per_scrape[i]` recomputes in interval i;
    the release at 50 s."""
    results = _run()
    key = 'peakstore_cache_events_total{event="recompute",namespace="catalog.product"}'
    total, samples = 0.0, [(T0, {key: 0.0})]
    for index, count in enumerate(per_scrape, start=1):
        total += count
        samples.append((T0 + 5 * index, {key: total}))
    results.metrics = samples
    return results


RECOMPUTE_STORM = {
    "rate_peak_ratio": {"cache recomputes/s": {"phase": "spike", "over": "baseline", "max": 3.0}}
}


def test_a_recompute_storm_after_a_release_fails_its_peak_ratio_gate():
    steady = [10.0] * 20
    storm = [10.0] * 10 + [200.0] + [10.0] * 9  # everything recomputed at once

    assert not _failed(
        gates_evaluate(_recomputes(steady), RECOMPUTE_STORM, audits=[], baseline=None)
    )
    rows = gates_evaluate(_recomputes(storm), RECOMPUTE_STORM, audits=[], baseline=None)
    assert _failed(rows) == {"cache recomputes/s peak spike / mean baseline": "20.0"}


def test_a_peak_ratio_without_scrapes_is_skipped_not_passed():
    rows = gates_evaluate(_run(), RECOMPUTE_STORM, audits=[], baseline=None)

    (row,) = [row for row in rows if row.gate.startswith("cache recomputes/s")]
    assert row.status == "skipped"


SLOW_RELEASE = {"release_exposure_max_percent": {"recommendations-v2": 5}}


def _rollout(*exposures: tuple[float, float]) -> RunResults:
    """A run whose release decisions moved `recommendations-v2` through `exposures`."""
    run = _run()
    run.releases = [
        (10.0 * index, {"flag": "recommendations-v2", "exposure_percent": list(exposure)})
        for index, exposure in enumerate(exposures)
    ]
    return run


def test_a_bad_release_stopped_at_its_first_step_passes_its_exposure_gate():
    # An earlier run's exposure stopped first, then started, then stopped by its gates.
    stopped = _rollout((50, 0), (0, 5), (5, 0))

    rows = gates_evaluate(stopped, SLOW_RELEASE, audits=[], baseline=None)

    assert "recommendations-v2 peak exposure %" not in _failed(rows)


def test_a_bad_release_left_on_its_schedule_fails_its_exposure_gate():
    blind = _rollout((0, 5), (5, 25), (25, 50))

    rows = gates_evaluate(blind, SLOW_RELEASE, audits=[], baseline=None)

    assert _failed(rows)["recommendations-v2 peak exposure %"] == "50"


def test_an_exposure_gate_without_decisions_is_skipped_not_passed():
    rows = gates_evaluate(_run(), SLOW_RELEASE, audits=[], baseline=None)

    (row,) = [row for row in rows if row.gate.startswith("recommendations-v2")]
    assert row.status == "skipped"


def test_the_long_lived_storm_counts_catalog_prices_and_the_read_model_not_pages():
    def interval(namespaces: dict[str, float]) -> RunResults:
        results = _run()
        keys = {
            f'peakstore_cache_events_total{{event="recompute",namespace="{ns}"}}': count
            for ns, count in namespaces.items()
        }
        results.metrics = [(T0, dict.fromkeys(keys, 0.0)), (T0 + 5, keys)]
        return results

    counted = interval(
        {
            "catalog.listing": 10,
            "pricing.price": 20,
            "search.documents": 5,
            "storefront.page": 400,  # short-lived: recomputed all the time by design
            "inventory.availability": 300,
            "pricing.promotions": 7,
        }
    ).metric_rates(RATE_COUNTERS["long-lived cache recomputes/s"])

    assert counted == {"peakstore_cache_events_total": [(5.0, 35 / 5)]}
