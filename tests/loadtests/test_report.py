"""The report builder: one self-contained HTML file, JSON and a Markdown summary."""

import json
import re

from loadtests.gates import AuditResult, gates_evaluate
from loadtests.report import report_markdown, report_write
from loadtests.results import Event
from tests.loadtests.test_gates import CLEAN, GATES, T0, _run


def test_the_report_is_self_contained_with_charts_phases_gates_and_baseline(tmp_path):
    # given a run that failed one gate, compared with a baseline
    run = _run(browse_ms=150)
    baseline = {"journeys": {"browse": {"p95_ms": 40, "error_rate": 0}}}
    rows = gates_evaluate(run, GATES, audits=CLEAN, baseline=baseline)

    # when the report is written
    paths = report_write(run, rows, report_dir=tmp_path, baseline=baseline, meta={"users": 60})
    page = paths["html"].read_text()

    # then the HTML loads nothing from anywhere and draws its charts inline
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script" not in page
    assert page.count("<svg") >= 10
    for title in (
        "Users",
        "Requests per second",
        "p95 latency",
        "Cache hit ratio",
        "Dependency calls",
        "queue depth",
        "funnel",
        "Errors and shed",
    ):
        assert title in page
    # with the shape's phases marked, the gate table and the baseline comparison
    assert ">baseline</text>" in page
    assert ">spike</text>" in page
    assert "browse p95 ms" in page
    assert 'class="fail"' in page
    assert "Baseline comparison" in page
    assert "browse p95 ms" in page
    assert "FAILED" in page

    # and the JSON and Markdown carry the same verdict
    document = json.loads(paths["json"].read_text())
    assert document["passed"] is False
    assert document["checkout"]["placed"] == 20
    assert document["by_phase"]["spike"]["browse"]["p95_ms"] == 150
    summary = paths["markdown"].read_text()
    assert "FAILED" in summary
    assert "browse p95 ms: 150 (limit 100)" in summary


def test_a_passing_run_says_so_briefly():
    run = _run()
    rows = gates_evaluate(run, GATES, audits=[AuditResult("audit_orders", True)], baseline=None)

    summary = report_markdown(run, rows, meta={"shape": "campaign-spike", "users": 60})

    assert summary.startswith("## Load test `spike`: PASSED")
    assert "gates passed" in summary
    assert len(summary.splitlines()) < 20


def test_a_peak_other_than_the_scenarios_own_names_both():
    run = _run()
    rows = gates_evaluate(run, GATES, audits=CLEAN, baseline=None)

    sized = report_markdown(run, rows, meta={"users": 31, "scenario_users": 60})
    own = report_markdown(run, rows, meta={"users": 60, "scenario_users": 60})

    assert "peak 31 users (the scenario's 60)," in sized
    assert "peak 60 users," in own


def test_release_decisions_are_marked_on_the_timeline_and_listed(tmp_path):
    # given a run during which a gate stopped a release 72 s in
    run = _run()
    run.releases = [
        (
            72.0,
            {
                "flag": "recommendations-v2",
                "action": "stop",
                "actor": "gate",
                "exposure_percent": [5.0, 0.0],
                "reason": "3 failed intervals (limit 3); last: canary p95 6.12x control > 1.50x",
            },
        )
    ]
    rows = gates_evaluate(run, GATES, audits=CLEAN, baseline=None)

    paths = report_write(run, rows, report_dir=tmp_path, baseline=None, meta={})
    page = paths["html"].read_text()

    # then every time chart carries the stop as a marker, and a table explains it
    assert page.count('class="marker"><title>recommendations-v2 stop (gate)</title>') >= 3
    assert "<h2>Release decisions</h2>" in page
    assert "5% -&gt; 0%" in page
    document = json.loads(paths["json"].read_text())
    assert document["release_decisions"][0]["t_s"] == 72.0
    assert document["release_decisions"][0]["action"] == "stop"


def test_release_decisions_are_read_with_their_offset_into_the_run(tmp_path):
    from datetime import UTC, datetime

    from loadtests.results import results_read

    started = datetime(2026, 11, 27, 9, 16, 0, tzinfo=UTC)
    (tmp_path / "events.csv").write_text("t,journey,name,ms,outcome\n")
    (tmp_path / "phases.json").write_text(
        json.dumps({"started_at": started.timestamp(), "duration_s": 300, "phases": []})
    )
    decision = {"flag": "f", "action": "stop", "at": "2026-11-27T09:20:18.178+00:00"}
    (tmp_path / "releases.json").write_text(json.dumps([decision]))

    results = results_read(tmp_path, scenario="spike")

    assert [(round(t, 1), d["action"]) for t, d in results.releases] == [(258.2, "stop")]


ADMISSION_CHART = (
    "Admission control: expected queueing wait against the overload wait and each "
    "class&#x27;s budget"
)


def _chart(page: str, title: str) -> str:
    start = page.index(f'aria-label="{title}"')
    return page[start : page.index("</svg>", start)]


def test_the_report_draws_expected_wait_against_the_thresholds_from_the_scrapes(tmp_path):
    # given three scrapes of a store with admission control: two workers report their
    # expected wait, the overload wait, budgets per class (critical has none: never
    # shed), bots were shed
    run = _run(shed=3)
    budgets = {
        'peakstore_admission_overload_wait_seconds{pid="11"}': 0.15,
        'peakstore_admission_budget_seconds{pid="11",route_class="bot"}': 0.1,
        'peakstore_admission_budget_seconds{pid="11",route_class="browse"}': 0.5,
        'peakstore_admission_budget_seconds{pid="11",route_class="critical"}': float("inf"),
    }
    run.metrics = [
        (T0 + t, {**budgets, **waits, 'peakstore_requests_shed_total{route_class="bot"}': shed})
        for t, waits, shed in (
            (1, {}, 0.0),
            (50, {'peakstore_admission_expected_wait_seconds{pid="11"}': 0.05}, 0.0),
            (
                90,
                {
                    'peakstore_admission_expected_wait_seconds{pid="11"}': 0.04,
                    'peakstore_admission_expected_wait_seconds{pid="12"}': 0.12,
                },
                3.0,
            ),
        )
    ]
    rows = gates_evaluate(run, GATES, audits=CLEAN, baseline=None)

    # when the report is written
    paths = report_write(run, rows, report_dir=tmp_path, baseline=None, meta={})
    page = paths["html"].read_text()

    # then one chart shows the expected wait (the largest worker's, in ms) over time
    # against a dashed line for the overload wait and per finite budget
    chart = _chart(page, ADMISSION_CHART)
    assert "no data in this run" not in chart
    assert ">expected wait</text>" in chart
    assert ">overload wait</text>" in chart
    assert ">budget bot</text>" in chart
    assert ">budget browse</text>" in chart
    assert "budget critical" not in chart
    assert chart.count('stroke-dasharray="6 4"') == 3
    assert chart.count("<polyline") == 4
    assert ">500 ms</text>" in chart  # the axis reaches the browse budget
    # and the summary says which class was shed, as a share of what was offered
    offered = run.overall().requests
    summary = paths["markdown"].read_text()
    assert f"share of {offered:,} offered requests): bot {3 / offered:.2%}." in summary
    assert "<h2>Admission control</h2>" in page
    document = json.loads(paths["json"].read_text())
    assert document["admission"] == {
        "shed_by_class": {"bot": 3},
        "budget_s": {"bot": 0.1, "browse": 0.5},
        "expected_wait_s_max": 0.12,
    }


def test_a_store_without_admission_metrics_still_gets_a_report(tmp_path):
    # given a run whose store exported none of admission control's gauges (an older stack)
    run = _run()
    run.metrics = [(T0 + 1, {"peakstore_http_requests_in_flight": 1.0})]
    rows = gates_evaluate(run, GATES, audits=CLEAN, baseline=None)

    paths = report_write(run, rows, report_dir=tmp_path, baseline=None, meta={})

    # then the chart says it has no data, and the summary that nothing was shed
    assert "no data in this run" in _chart(paths["html"].read_text(), ADMISSION_CHART)
    assert "Shed by class (store's counter): none." in paths["markdown"].read_text()


def test_every_gate_is_a_junit_test_case_a_ci_system_can_read(tmp_path):
    from xml.etree import ElementTree

    from junitparser import Failure, JUnitXml, Skipped

    # given a run that fails one gate and skips others (no baseline, a missing audit)
    run = _run(browse_ms=150)
    audits = [AuditResult("audit_orders", True), AuditResult("cache_audit", None, "missing")]
    rows = gates_evaluate(run, GATES, audits=audits, baseline=None)

    # when the report is written
    paths = report_write(run, rows, report_dir=tmp_path, baseline=None, meta={"profile": "x"})

    # then junit.xml is well-formed XML in JUnit's shape: <testsuites><testsuite><testcase>
    root = ElementTree.parse(paths["junit"]).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.find("properties/property[@name='profile']").get("value") == "x"
    # and a JUnit parser reads one case per gate, each with its status
    cases = {case.name: case for suite in JUnitXml.fromfile(str(paths["junit"])) for case in suite}
    assert list(cases) == [row.gate for row in rows]
    failed = {name for name, case in cases.items() if isinstance(_result(case), Failure)}
    skipped = {name for name, case in cases.items() if isinstance(_result(case), Skipped)}
    assert failed == {row.gate for row in rows if row.failed} == {"browse p95 ms"}
    assert skipped == {row.gate for row in rows if row.status == "skipped"}
    assert {"baseline", "audit cache_audit"} <= skipped
    assert all(case.is_passed for name, case in cases.items() if name not in failed | skipped)
    # with the value, the limit and the detail in the failure's message
    assert _result(cases["browse p95 ms"]).message == "150 (limit 100)"
    assert "150 (limit 100); fail" in cases["browse p95 ms"].system_out
    assert int(suite.get("tests")) == len(rows)
    assert int(suite.get("failures")) == 1


def _result(case):
    return case.result[0] if case.result else None


def test_the_json_report_keeps_the_rounds_compare_pairs(tmp_path):
    run = _run()
    rows = gates_evaluate(run, GATES, audits=CLEAN, baseline=None)

    paths = report_write(run, rows, report_dir=tmp_path, baseline=None, meta={})

    rounds = json.loads(paths["json"].read_text())["rounds"]
    assert rounds["count"] == 20
    assert rounds["window_s"] == 5
    assert len(rounds["figures"]["browse p95 ms"]["values"]) == 20
    assert rounds["figures"]["checkout completion"]["worse"] == "lower"


def test_the_summary_names_the_baseline_it_was_held_to():
    run = _run()
    baseline = {"journeys": {}, "match": "same machine class (2-cores-8-gib-services)"}
    rows = gates_evaluate(run, GATES, audits=CLEAN, baseline=baseline)

    summary = report_markdown(run, rows, meta={}, baseline=baseline)

    assert "Baseline: same machine class (2-cores-8-gib-services)." in summary


def test_a_deploys_steps_are_marked_on_the_timeline_and_listed(tmp_path):
    from tests.loadtests.test_gates import DEPLOY_GATES, _deployed

    run = _deployed(recovered_after_s=10)
    rows = gates_evaluate(run, DEPLOY_GATES, audits=CLEAN, baseline=None)

    page = report_write(run, rows, report_dir=tmp_path, baseline=None, meta={})["html"]
    html = page.read_text()

    assert html.count('class="marker"><title>deploy web</title>') >= 3
    assert "<h3>Deploy</h3>" in html
    assert "2 old workers replaced by 2 new ones" in html
    assert "cache hit ratio back to 90% of before within 60 s" in html


def test_the_slowest_requests_link_to_their_traces_by_request_id(tmp_path):
    results = _run()
    slow = Event(T0 + 5, "browse", "[browse] /c/[slug]/", 2500, "ok", "req-slow&1")
    results.events.append(slow)
    results.events.append(Event(T0 + 6, "browse", "[browse] /", 30, "ok", "req-fast"))

    paths = report_write(results, [], report_dir=tmp_path, baseline=None, meta={})
    page = paths["html"].read_text()

    section = page.split("<h2>Slowest requests</h2>", 1)[1]
    assert section.index("req-slow&amp;1") < section.index("req-fast")
    assert '<a href="/ops/traces/?request_id=req-slow%261">' in section
