"""Comparing two runs: a real regression is caught, noise and drift within the band are not."""

import json
import random

import pytest

from loadtests.compare import (
    IMPROVED,
    NOISE,
    REGRESSION,
    TOO_FEW,
    NotComparable,
    comparison_markdown,
    comparison_write,
    figure_compare,
    report_document_read,
    reports_compare,
    run_rounds,
)
from loadtests.gates import gates_evaluate
from loadtests.report import report_json
from loadtests.results import Event, PhaseSpan, RunResults
from tests.loadtests.test_gates import CLEAN, GATES

T0 = 2_000_000.0
DURATION_S = 120
SLOS = {"[browse] /c/[slug]/": 400.0, "[buy] /api/v1/carts/": 400.0, "[buy] /api/v1/orders/": 800.0}


def _synthetic_run(seed: int, *, cart_delay_ms: float = 0.0, load: float = 1.0) -> RunResults:
    """A 2-minute run on a noisy machine: browse pages and API buyers, each latency drawn
    from a long-tailed distribution, the machine's speed wandering over the run (the same
    wander in every run of this shape: the ramp) and from run to run (`seed`).

    `cart_delay_ms` is the deliberately slowed change: every cart API call waits that long.
    `load` scales every latency: a machine uniformly slower during the whole run.
    """
    rng = random.Random(seed)
    events = []
    for tenth in range(DURATION_S * 10):
        t = T0 + tenth / 10
        ramp = 1.6 if tenth < 100 else 1.0  # the first 10 s: caches still cold
        machine = ramp * load * rng.uniform(0.85, 1.15)
        events.append(
            Event(t, "browse", "[browse] /c/[slug]/", machine * rng.lognormvariate(3.4, 0.5), "ok")
        )
        if tenth % 2 == 0:
            ms = machine * rng.lognormvariate(3.5, 0.4) + cart_delay_ms
            events.append(Event(t, "buy", "[buy] /api/v1/carts/", ms, "ok"))
        if tenth % 5 == 0:
            ms = machine * rng.lognormvariate(3.5, 0.4)
            events.append(Event(t, "buy", "[buy] /api/v1/orders/", ms, "ok"))
    return RunResults(
        "smoke",
        T0,
        float(DURATION_S),
        events,
        [PhaseSpan("ramp-up", 0, 10, 5), PhaseSpan("steady", 10, DURATION_S, 10)],
        users=[(0, 5), (10, 10)],
        slos=dict(SLOS),
    )


def _report(run: RunResults, calibration_rps: float | None = 800.0) -> dict:
    rows = gates_evaluate(run, GATES, audits=CLEAN, baseline=None)
    machine = {"cores": 2, "memory_gib": 8, "profile": "embedded"}
    meta = {"machine": {**machine, "calibration_rps": calibration_rps}}
    # Through JSON, as compare reads it from a file.
    return json.loads(json.dumps(report_json(run, rows, baseline=None, meta=meta)))


def _verdicts(comparison) -> dict[str, str]:
    return {figure.name: figure.verdict for figure in comparison.figures}


@pytest.mark.parametrize("pair", range(3))
def test_a_20_ms_delay_in_the_cart_api_is_a_regression_in_every_pair(pair):
    # given a base run and a head run whose cart API calls each wait 20 ms more
    base = _report(_synthetic_run(seed=100 + pair))
    head = _report(_synthetic_run(seed=200 + pair, cart_delay_ms=20))

    comparison = reports_compare(base, head)

    # then the cart request's p95 or its journey's regressed, each by up to the delay and
    # past its band, and nothing else did
    assert comparison.regressed
    assert {f.name for f in comparison.regressions} <= {"[buy] /api/v1/carts/ p95 ms", "buy p95 ms"}
    for figure in comparison.regressions:
        assert 5 < figure.shift < 30
        assert figure.band < figure.shift
        assert figure.p_value <= comparison.alpha


@pytest.mark.parametrize("pair", range(3))
def test_an_unchanged_store_against_itself_is_no_regression_in_every_pair(pair):
    # given two runs of the same store, with different noise
    base = _report(_synthetic_run(seed=300 + pair))
    head = _report(_synthetic_run(seed=400 + pair))

    comparison = reports_compare(base, head)

    # then no figure is worse beyond its band
    assert not comparison.regressed, comparison_markdown(comparison)
    assert set(_verdicts(comparison).values()) <= {NOISE}


def test_a_machine_slower_between_runs_is_drift_the_calibrations_account_for():
    # given a head run on a machine 30% slower throughout, which its calibration measured
    base = _report(_synthetic_run(seed=500), calibration_rps=800.0)
    head = _report(_synthetic_run(seed=501, load=1.3), calibration_rps=615.0)

    # then the calibrated comparison sees drift, not a regression
    assert not reports_compare(base, head).regressed
    # while without calibration figures the same shift would count against the change
    uncalibrated = reports_compare(
        _report(_synthetic_run(seed=500), calibration_rps=None),
        _report(_synthetic_run(seed=501, load=1.3), calibration_rps=None),
    )
    assert uncalibrated.regressed
    assert any("not bounded" in note for note in uncalibrated.notes)


def test_a_faster_head_is_reported_as_improved_not_as_a_regression():
    base = _report(_synthetic_run(seed=600, cart_delay_ms=20))
    head = _report(_synthetic_run(seed=601))

    comparison = reports_compare(base, head)

    assert not comparison.regressed
    assert _verdicts(comparison)["buy p95 ms"] == IMPROVED


def test_one_slow_window_is_noise_and_a_consistent_shift_is_not():
    base = {"unit": "ms", "worse": "higher", "run": 50.0, "values": [50.0] * 12}
    one_spike = {**base, "values": [50.0] * 11 + [400.0]}
    shifted = {**base, "values": [v + 3 for v in base["values"]]}

    assert figure_compare("p95", base, one_spike, alpha=0.01).verdict == NOISE
    assert figure_compare("p95", base, shifted, alpha=0.01).verdict == REGRESSION
    # lower-is-worse figures are judged the other way round
    attainment = {"unit": "share", "worse": "lower", "run": 0.99, "values": [0.99] * 12}
    dropped = {**attainment, "values": [0.90] * 12}
    assert figure_compare("attainment", attainment, dropped, alpha=0.01).verdict == REGRESSION


def test_too_few_rounds_cannot_show_a_regression():
    base = {"unit": "ms", "worse": "higher", "run": 50.0, "values": [50.0] * 3 + [None] * 9}
    head = {**base, "values": [500.0] * 3 + [None] * 9}

    compared = figure_compare("p95", base, head, alpha=0.01)

    # 3 pairs all worse happen by chance 1 time in 8: more often than alpha allows
    assert (compared.verdict, compared.pairs) == (TOO_FEW, 3)


def test_runs_of_another_scenario_or_without_rounds_are_refused():
    report = _report(_synthetic_run(seed=1))

    with pytest.raises(NotComparable, match="scenario"):
        reports_compare(report, {**report, "scenario": "soak"})
    with pytest.raises(NotComparable, match="rounds"):
        reports_compare(report, {key: v for key, v in report.items() if key != "rounds"})


def test_runs_at_two_peaks_are_refused_with_the_option_that_pins_one():
    report = _report(_synthetic_run(seed=1))
    sized = {**report, "meta": {**report["meta"], "users": 28}}
    full = {**report, "meta": {**report["meta"], "users": 60}}

    with pytest.raises(NotComparable, match="--users 28"):
        reports_compare(sized, full)
    assert reports_compare(sized, sized).figures


def test_rounds_hold_every_gate_relevant_figure_per_window():
    rounds = run_rounds(_synthetic_run(seed=2))

    assert rounds["count"] == 20
    assert rounds["window_s"] == 6
    assert sorted(rounds["figures"]) == [
        "[browse] /c/[slug]/ p95 ms",
        "[buy] /api/v1/carts/ p95 ms",
        "[buy] /api/v1/orders/ p95 ms",
        "browse SLO attainment",
        "browse error rate",
        "browse p95 ms",
        "buy SLO attainment",
        "buy error rate",
        "buy p95 ms",
        "checkout completion",
    ]
    p95 = rounds["figures"]["browse p95 ms"]
    assert len(p95["values"]) == 20
    assert p95["worse"] == "higher"
    # the cold first 10 s are slower than the warm rest
    assert min(p95["values"][:1]) > max(p95["values"][2:])


def test_the_comparison_is_written_side_by_side(tmp_path):
    base_dir, head_dir = tmp_path / "base", tmp_path / "head"
    for folder, delay in ((base_dir, 0), (head_dir, 20)):
        folder.mkdir()
        report = _report(_synthetic_run(seed=700 + delay, cart_delay_ms=delay))
        (folder / "report.json").write_text(json.dumps(report))

    comparison = reports_compare(
        report_document_read(base_dir), report_document_read(head_dir / "report.json")
    )
    paths = comparison_write(comparison, out_dir=tmp_path / "out")

    markdown = paths["markdown"].read_text()
    assert markdown.startswith("## Load test `smoke` against the base: REGRESSION")
    assert "| buy p95 ms |" in markdown
    assert "**regression**" in markdown
    # a request's figure that did not move is counted, not listed
    assert "| [browse] /c/[slug]/ p95 ms |" not in markdown
    assert "request p95 figures within noise" in markdown
    document = json.loads(paths["json"].read_text())
    assert document["regressed"] is True
    regressed = {f["name"] for f in document["figures"] if f["verdict"] == REGRESSION}
    assert "buy p95 ms" in regressed or "[buy] /api/v1/carts/ p95 ms" in regressed
