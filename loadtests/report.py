"""The run report: one self-contained HTML file, plus JSON and a Markdown summary.

The HTML has no script and loads nothing: charts are inline SVG (`perfstats.charts`),
with the shape's phases as shaded bands, so the file can be attached to a CI run, mailed, or
opened years later. The JSON holds every figure (for tools, and the rounds `compare`
pairs); the Markdown summary is short enough for a CI log or a pull-request comment; and
`junit.xml` lists every gate as a test case, so any CI shows a failing gate as it shows
a failing test.

`comparison_html` puts two runs side by side on one such page (`loadtest compare` and the
failure-mode lab write it): each run's gates, the figures against noise (`compare.py`),
and both runs on every chart over time, from the `series` each report.json carries.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import quote

from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite

from loadtests.compare import IMPROVED, REGRESSION, Comparison, run_rounds
from loadtests.gates import GateResult, verdict
from loadtests.results import RATE_COUNTERS, RunResults
from perfstats.charts import line_chart


def release_markers(results: RunResults) -> list[tuple[float, str]]:
    """One marker per release decision: when, and e.g. "recommendations-v2 stop (gate)"."""
    return [
        (t, f"{d['flag']} {d['action']} ({d['actor']})")
        for t, d in results.releases
        if d["action"] not in {"frozen"}
    ] + [(t, f"deploy {d['step']}") for t, d in results.deploys]


def _release_rows(results: RunResults) -> list[list[object]]:
    return [
        [
            f"{t:.0f}s",
            d["flag"],
            d["action"],
            d["actor"],
            f"{d['exposure_percent'][0]:g}% -> {d['exposure_percent'][1]:g}%",
            d["reason"],
        ]
        for t, d in results.releases
    ]


def admission_series(results: RunResults) -> tuple[dict[str, list], set[str]]:
    """Admission control's expected wait, the overload wait and each class's budget, in
    ms; the names of the thresholds (drawn dashed).

    All come from the store's /metrics; a store without them gives empty series.
    """
    series = {"expected wait": [(t, s * 1000) for t, s in results.admission_wait()]}
    thresholds = {"overload wait": [(t, s * 1000) for t, s in results.admission_overload_wait()]}
    thresholds |= {
        f"budget {route_class}": [(t, s * 1000) for t, s in values]
        for route_class, values in results.admission_budgets().items()
    }
    thresholds = {name: values for name, values in thresholds.items() if values}
    return {**series, **thresholds}, set(thresholds)


def charts(results: RunResults) -> list[str]:
    """Every chart of the report, in order: what the users saw, then how the store coped."""
    # Every chart spans the whole run, with its phases and release decisions.
    chart = partial(
        line_chart,
        duration_s=results.duration_s,
        phases=results.phases,
        markers=release_markers(results),
    )
    return [*_journey_charts(results, chart), *_store_charts(results, chart)]


def _journey_charts(results: RunResults, chart: Callable[..., str]) -> list[str]:
    """Users, then throughput and latency by journey, as the load generator timed them."""
    journeys = results.journeys()
    timelines = {journey: results.timeline(journey) for journey in journeys}
    out = [
        chart("Users", {"users": [(t, float(u)) for t, u in results.users]}),
        chart(
            "Requests per second, by journey",
            {j: [(t, f.rps) for t, f in timelines[j]] for j in journeys},
        ),
        chart(
            "p95 latency by journey (admitted requests)",
            {j: [(t, f.p95_ms) for t, f in timelines[j] if f.served] for j in journeys},
            unit=" ms",
        ),
    ]
    for journey in journeys:
        out.append(
            chart(
                f"{journey}: p50 / p95 / p99",
                {
                    name: [(t, getattr(f, f"{name}_ms")) for t, f in timelines[journey] if f.served]
                    for name in ("p50", "p95", "p99")
                },
                unit=" ms",
            )
        )
    return out


def _store_charts(results: RunResults, chart: Callable[..., str]) -> list[str]:
    """Errors and shedding, then the store's own counters: admission, cache, dependencies,
    queues and the checkout funnel (empty when the run scraped no /metrics)."""
    size = results.bucket_s()
    total = results.timeline()
    admission, budgets = admission_series(results)
    return [
        chart(
            "Errors and shed requests per second",
            {
                "errors": [(t, f.errors / size) for t, f in total],
                "shed": [(t, f.shed / size) for t, f in total],
            },
        ),
        chart(
            "Admission control: expected queueing wait against the overload wait and each "
            "class's budget",
            admission,
            unit=" ms",
            dashed=budgets,
        ),
        chart(
            "Cache hit ratio",
            {"hit ratio": results.cache_hit_ratio()},
            y_max=1.0,
        ),
        chart(
            "Dependency calls per second, by outcome",
            results.metric_rates(r"^peakstore_dependency_calls_total\{", group_by="outcome"),
        ),
        chart(
            "Celery queue depth and task retries per second",
            {
                **results.metric_gauge(r"^peakstore_celery_queue_depth\{"),
                "retries/s": results.metric_rates(
                    r'^peakstore_celery_tasks_total\{.*state="retry"'
                ).get("peakstore_celery_tasks_total", []),
            },
        ),
        chart(
            "Checkout funnel per second (store's counters)",
            results.metric_rates(r"^peakstore_checkout_funnel_total\{", group_by="step"),
        ),
    ]


# What `series` names its time series; `compare` draws two runs' side by side from these.
SERIES_UNITS = {
    "p50 ms": " ms",
    "p95 ms": " ms",
    "p99 ms": " ms",
    "requests/s": "",
    "errors/s": "",
    "queries/request": "",
    "SQL statements/s": "",
    "cache recomputes/s": "",
    "long-lived cache recomputes/s": "",
    "cache hit ratio": "",
    "page cache misses/s": "",
    "upstream calls/s": "",
    "repeated-statement requests/s": "",
}


def report_series(results: RunResults) -> dict[str, list[tuple[float, float]]]:
    """The run over time, as plain points (seconds into the run, value): what users saw
    (latency percentiles of admitted requests, throughput, errors) and how the store
    worked for it (queries, cache, upstream calls, from its /metrics)."""
    size = results.bucket_s()
    total = [(t, f) for t, f in results.timeline() if f.served]

    def rate(pattern: str) -> list[tuple[float, float]]:
        rates = results.metric_rates(pattern)
        return next(iter(rates.values()), [])

    series = {
        "p50 ms": [(t, f.p50_ms) for t, f in total],
        "p95 ms": [(t, f.p95_ms) for t, f in total],
        "p99 ms": [(t, f.p99_ms) for t, f in total],
        "requests/s": [(t, f.served / size) for t, f in total],
        "errors/s": [(t, f.errors / size) for t, f in results.timeline()],
        "queries/request": results.queries_per_request_series(),
        "SQL statements/s": rate(RATE_COUNTERS["SQL statements/s"]),
        "cache recomputes/s": rate(RATE_COUNTERS["cache recomputes/s"]),
        "long-lived cache recomputes/s": rate(RATE_COUNTERS["long-lived cache recomputes/s"]),
        "cache hit ratio": results.cache_hit_ratio(),
        "page cache misses/s": rate(
            r'^peakstore_cache_events_total\{.*event="miss".*namespace="storefront\.page"'
        ),
        "upstream calls/s": rate(r"^peakstore_dependency_calls_total\{"),
        "repeated-statement requests/s": rate(r"^peakstore_http_duplicate_query_requests_total"),
    }
    return {
        name: [(round(t, 1), round(v, 4)) for t, v in points] for name, points in series.items()
    }


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], classes=None) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(h))}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if classes else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _in_slo(results: RunResults, journey: str | None, phase: str | None = None) -> str:
    measured = results.slo_attainment(journey, phase) if journey else None
    return f"{measured.ratio:.1%}" if measured else "-"


_JOURNEY_HEADER = [
    "journey",
    "requests",
    "errors",
    "error %",
    "shed",
    "refused",
    "p50",
    "p95",
    "p99",
    "req/s",
    "in SLO",
]


def _journey_rows(results: RunResults) -> list[list[object]]:
    rows: list[list[object]] = []
    for journey in [*results.journeys(), None]:
        f = results.overall(journey)
        rows.append(
            [
                journey or "total",
                f"{f.requests:,}",
                f"{f.errors:,}",
                f"{f.error_rate:.2%}",
                f"{f.shed:,}",
                f"{f.refused:,}",
                f"{f.p50_ms:.0f}",
                f"{f.p95_ms:.0f}",
                f"{f.p99_ms:.0f}",
                f"{f.rps:.1f}",
                _in_slo(results, journey),
            ]
        )
    return rows


def _budgets_at_end(results: RunResults) -> dict[str, float]:
    """Each route class's admission budget in seconds, as the last scrape saw it."""
    return {c: values[-1][1] for c, values in results.admission_budgets().items() if values}


def _admission_rows(results: RunResults) -> list[list[object]]:
    """Per route class: its wait budget (at the end of the run), requests shed, their share
    of every request offered in the run."""
    offered = results.overall().requests
    budgets = _budgets_at_end(results)
    shed = results.shed_by_class()
    return [
        [
            route_class,
            f"{budgets[route_class] * 1000:.0f} ms" if route_class in budgets else "-",
            f"{shed.get(route_class, 0):,}",
            f"{shed.get(route_class, 0) / offered:.2%}" if offered else "-",
        ]
        for route_class in sorted(set(budgets) | set(shed))
    ]


def _shed_by_class_line(results: RunResults) -> str:
    offered = results.overall().requests
    shed = results.shed_by_class()
    if not results.metrics or not offered:
        return "Shed by class: no /metrics scrapes in this run."
    if not shed:
        return "Shed by class (store's counter): none."
    shares = ", ".join(f"{c} {n / offered:.2%}" for c, n in shed.items())
    return f"Shed by class (store's counter, share of {offered:,} offered requests): {shares}."


def _phase_rows(results: RunResults) -> list[list[object]]:
    rows: list[list[object]] = []
    for phase in results.phases:
        for journey in results.journeys():
            f = results.in_phase(phase.name, journey)
            if f and f.requests:
                rows.append(
                    [
                        phase.name,
                        journey,
                        f"{f.requests:,}",
                        f"{f.p95_ms:.0f}",
                        f"{f.error_rate:.2%}",
                        f"{f.shed_ratio:.1%}",
                        f"{f.rps:.1f}",
                        _in_slo(results, journey, phase.name),
                    ]
                )
    return rows


def report_json(
    results: RunResults, rows: list[GateResult], *, baseline: Mapping | None, meta: Mapping
) -> dict:
    return {
        "scenario": results.scenario,
        "meta": dict(meta),
        "passed": verdict(rows),
        "duration_s": round(results.duration_s, 1),
        "phases": [vars(phase) for phase in results.phases],
        "release_decisions": [{"t_s": round(t, 1), **d} for t, d in results.releases],
        "total": results.overall().as_dict(),
        "journeys": {j: results.overall(j).as_dict() for j in results.journeys()},
        "by_phase": {
            phase.name: {
                j: figures.as_dict()
                for j in results.journeys()
                if (figures := results.in_phase(phase.name, j)) is not None
            }
            for phase in results.phases
        },
        "checkout": results.checkout().as_dict(),
        "funnel": results.funnel(),
        "slo_attainment": {
            j: measured.as_dict()
            for j in results.journeys()
            if (measured := results.slo_attainment(j)) is not None
        },
        "admission": {
            "shed_by_class": results.shed_by_class(),
            "budget_s": _budgets_at_end(results),
            "expected_wait_s_max": max((s for _, s in results.admission_wait()), default=None),
        },
        "queries_per_request": results.queries_per_request(),
        "gates": [row.as_dict() for row in rows],
        "baseline": baseline,
        "rounds": run_rounds(results),
        "series": report_series(results),
    }


def report_markdown(
    results: RunResults,
    rows: list[GateResult],
    *,
    meta: Mapping,
    baseline: Mapping | None = None,
) -> str:
    total, checkout = results.overall(), results.checkout()
    failed = [row for row in rows if row.failed]
    users, own = meta.get("users", "?"), meta.get("scenario_users")
    peak = f"{users} users" if own in (None, users) else f"{users} users (the scenario's {own})"
    lines = [
        f"## Load test `{results.scenario}`: {'PASSED' if not failed else 'FAILED'}",
        "",
        f"{meta.get('shape', '')} shape, peak {peak}, "
        f"{results.duration_s:.0f} s, {total.requests:,} requests, "
        f"{total.error_rate:.2%} errors, {total.shed_ratio:.1%} shed, "
        f"checkout completion {checkout.completion:.2%} ({checkout.placed} orders).",
        "",
        "| journey | requests | errors | shed | p50 ms | p95 ms | p99 ms | req/s | in SLO |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in _journey_rows(results):
        cells = (row[0], row[1], row[2], row[4], row[6], row[7], row[8], row[9], row[10])
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    lines += ["", _shed_by_class_line(results), ""]
    if baseline is not None and "match" in baseline:
        lines += [f"Baseline: {baseline['match']}.", ""]
    if failed:
        lines.append("Failed gates:")
        lines += [f"- {row.gate}: {row.value} (limit {row.limit}) {row.detail}" for row in failed]
    else:
        skipped = sum(row.status == "skipped" for row in rows)
        lines.append(f"All {len(rows) - skipped} gates passed ({skipped} skipped).")
    return "\n".join(lines) + "\n"


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:940px;color:#0f172a}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:600}
.passed{background:#16a34a}.failed{background:#dc2626}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e2e8f0;padding:3px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}
tr.fail td{background:#fee2e2}tr.skipped td{color:#64748b}
svg{width:100%;height:auto;margin:6px 0 10px}
svg .title{font-size:13px;font-weight:600;fill:#0f172a}
svg .axis,svg .phase,svg .legend{font-size:10px;fill:#475569}
svg line.marker{stroke:#b91c1c;stroke-width:1.2;stroke-dasharray:4 3}
svg text.marker{font-size:10px;fill:#b91c1c}
svg .grid{stroke:#e2e8f0;stroke-width:1}
.meta{color:#475569}
"""


def report_html(
    results: RunResults, rows: list[GateResult], *, baseline: Mapping | None, meta: Mapping
) -> str:
    """Render the whole report as one page: the verdict and its gates, the figures, the
    decisions taken during the run, the baseline comparison, then the charts."""
    e = html.escape
    passed = verdict(rows)
    meta_line = " · ".join(f"{k}: {v}" for k, v in meta.items())
    return "\n".join(
        [
            "<!doctype html><html lang=en><meta charset=utf-8>",
            f"<title>Load test {e(results.scenario)}</title><style>{_CSS}</style>",
            f"<h1>Load test <code>{e(results.scenario)}</code> "
            f'<span class="verdict {"passed" if passed else "failed"}">'
            f"{'PASSED' if passed else 'FAILED'}</span></h1>",
            f'<p class="meta">{e(meta_line)}</p>',
            "<h2>Gates</h2>",
            _table(
                ["gate", "value", "limit", "status", "detail"],
                [[r.gate, r.value, r.limit, r.status, r.detail] for r in rows],
                ["fail" if r.failed else r.status for r in rows],
            ),
            "<h2>Journeys</h2>",
            _table(_JOURNEY_HEADER, _journey_rows(results)),
            "<h2>Admission control</h2>",
            _admission_html(results),
            "<h2>By phase</h2>",
            _table(
                ["phase", "journey", "requests", "p95 ms", "error %", "shed", "req/s", "in SLO"],
                _phase_rows(results),
            ),
            "<h2>Checkout</h2>",
            *_checkout_tables(results),
            "<h2>Release decisions</h2>",
            _releases_html(results),
            "<h2>Baseline comparison</h2>",
            _baseline_html(rows, baseline),
            "<h2>Slowest requests</h2>",
            _slowest_html(results),
            "<h2>Over time</h2>",
            *charts(results),
            "</html>",
        ]
    )


SLOWEST = 10


def _slowest_html(results: RunResults) -> str:
    """The run's slowest answered requests, each linked to its trace in the store.

    Every request over its route's SLO is kept by the store's tracing, so these are in
    the stack's trace ring (`/ops/traces/`) while the ring has not moved past them.
    """
    slowest = sorted(
        (event for event in results.events if event.request_id), key=lambda event: -event.ms
    )[:SLOWEST]
    if not slowest:
        return "<p>No request ids were recorded.</p>"
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(event.name)}</td><td>{event.ms:.0f}</td><td>{e(event.outcome)}</td>"
        f'<td><a href="/ops/traces/?request_id={quote(event.request_id)}">'
        f"{e(event.request_id)}</a></td></tr>"
        for event in slowest
    )
    note = (
        "<p>Trace links are paths on the store: open them on the stack that served the run "
        "(its var dir's trace ring), e.g. after <code>make run</code> on the same "
        "<code>PEAKSTORE_VAR_DIR</code>.</p>"
    )
    head = "<tr><th>request</th><th>ms</th><th>outcome</th><th>trace (X-Request-ID)</th></tr>"
    return f"{note}<table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def _admission_html(results: RunResults) -> str:
    admission_rows = _admission_rows(results)
    if not admission_rows:
        return "<p>Nothing was shed, and the store reported no admission budgets.</p>"
    return _table(["route class", "budget", "shed", "share of offered"], admission_rows)


def _checkout_tables(results: RunResults) -> list[str]:
    """The orders as the load generator saw them end, then its funnel step by step."""
    checkout = results.checkout()
    outcomes = [
        checkout.attempted,
        checkout.placed,
        checkout.refused,
        checkout.failed,
        checkout.shed,
        f"{checkout.completion:.2%}",
    ]
    return [
        _table(["attempted", "placed", "refused", "failed", "shed", "completion"], [outcomes]),
        _table(["funnel step (load generator)", "count"], list(results.funnel().items())),
    ]


def _releases_html(results: RunResults) -> str:
    deploys = _deploys_html(results)
    if not results.releases:
        return "<p>No release decision was taken during the run.</p>" + deploys
    return (
        _table(["at", "flag", "action", "by", "exposure", "reason"], _release_rows(results))
        + deploys
    )


def _deploys_html(results: RunResults) -> str:
    """The deploy's steps (`manage.py deploy`), each also a marker on every chart."""
    if not results.deploys:
        return ""
    rows = [
        [
            f"{t:.0f}s",
            d["step"],
            "ok" if d["ok"] else "FAILED",
            f"{d['finished_at'] - d['started_at']:.1f}s",
            d["detail"],
        ]
        for t, d in results.deploys
    ]
    return "<h3>Deploy</h3>" + _table(["at", "step", "outcome", "took", "what happened"], rows)


def _baseline_html(rows: list[GateResult], baseline: Mapping | None) -> str:
    """Which baseline the run was held to, then its gates again as a comparison: each
    figure now against its limit."""
    match = f"<p>{html.escape(baseline['match'])}.</p>" if baseline and "match" in baseline else ""
    baseline_rows = [
        [r.gate.removeprefix("baseline "), r.value, r.limit, r.status, r.detail]
        for r in rows
        if r.gate.startswith("baseline")
    ]
    if not baseline_rows:
        return "<p>No baseline recorded for this scenario (<code>--record-baseline</code>).</p>"
    return match + _table(["figure", "now", "limit", "status", "detail"], baseline_rows)


def report_junit(rows: list[GateResult], *, scenario: str, meta: Mapping) -> JUnitXml:
    """Every gate as a JUnit test case: a failed gate a failure, a skipped one skipped,
    the measured value and its limit in the message (and in the case's output)."""
    suite = TestSuite(f"loadtest {scenario}")
    for key, value in meta.items():
        suite.add_property(key, json.dumps(value) if isinstance(value, Mapping) else str(value))
    for row in rows:
        case = TestCase(row.gate, classname=f"loadtest.{scenario}", time=0)
        measured = f"{row.value} (limit {row.limit})"
        if row.failed:
            case.result = [Failure(f"{measured} {row.detail}".strip(), "gate")]
        elif row.status == "skipped":
            case.result = [Skipped(row.detail or measured)]
        case.system_out = f"{measured}; {row.status}" + (f"; {row.detail}" if row.detail else "")
        suite.add_testcase(case)
    document = JUnitXml(f"loadtest {scenario}")
    document.add_testsuite(suite)
    document.update_statistics()
    return document


def report_write(
    results: RunResults,
    rows: list[GateResult],
    *,
    report_dir: Path,
    baseline: Mapping | None,
    meta: Mapping,
) -> dict[str, Path]:
    """Write report.html, report.json, summary.md and junit.xml into `report_dir`; return
    the paths."""
    report_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "html": report_dir / "report.html",
        "json": report_dir / "report.json",
        "markdown": report_dir / "summary.md",
        "junit": report_dir / "junit.xml",
    }
    paths["html"].write_text(report_html(results, rows, baseline=baseline, meta=meta))
    document = report_json(results, rows, baseline=baseline, meta=meta)
    paths["json"].write_text(json.dumps(document, indent=2, default=str))
    paths["markdown"].write_text(report_markdown(results, rows, meta=meta, baseline=baseline))
    report_junit(rows, scenario=results.scenario, meta=meta).write(str(paths["junit"]), pretty=True)
    return paths


# --- two runs side by side -------------------------------------------------------------
MOVED = (REGRESSION, IMPROVED)


@dataclass(frozen=True)
class _PhaseSpan:
    name: str
    start_s: float
    end_s: float


def _gate_pairs(base: Mapping, head: Mapping) -> list[tuple[str, dict | None, dict | None]]:
    """Each gate of either run, with its row in each (None where a run has no such gate)."""
    base_rows = {row["gate"]: row for row in base.get("gates", [])}
    head_rows = {row["gate"]: row for row in head.get("gates", [])}
    names = [*base_rows, *(name for name in head_rows if name not in base_rows)]
    return [(name, base_rows.get(name), head_rows.get(name)) for name in names]


def _gate_cells(row: Mapping | None) -> list[object]:
    return ["-", "-"] if row is None else [row["value"], row["status"]]


def comparison_charts(
    base: Mapping, head: Mapping, *, labels: tuple[str, str], highlight: str | None = None
) -> list[str]:
    """One chart per time series of the runs' `report.json`, both runs on it, aligned on
    seconds into the run (the same moment of the shape); `highlight` first."""
    base_series, head_series = base.get("series", {}), head.get("series", {})
    names = [name for name in SERIES_UNITS if name in base_series or name in head_series]
    if highlight in names:
        names.remove(highlight)
        names.insert(0, highlight)
    chart = partial(
        line_chart,
        duration_s=max(float(base.get("duration_s", 0)), float(head.get("duration_s", 0))),
        phases=[_PhaseSpan(p["name"], p["start_s"], p["end_s"]) for p in base.get("phases", [])],
    )
    return [
        chart(
            f"{name} (the mode's own signal)" if name == highlight else name,
            {
                labels[0]: [tuple(point) for point in base_series.get(name, [])],
                labels[1]: [tuple(point) for point in head_series.get(name, [])],
            },
            unit=SERIES_UNITS[name],
            y_max=1.0 if name == "cache hit ratio" else None,
        )
        for name in names
    ]


def comparison_html(
    comparison: Comparison,
    base: Mapping,
    head: Mapping,
    *,
    labels: tuple[str, str] = ("base", "head"),
    title: str | None = None,
    preface: str = "",
    highlight: str | None = None,
) -> str:
    """Two runs side by side as one self-contained page: each run's gate verdicts, the
    figure-by-figure comparison against noise, then both runs over time on each chart.

    `preface` is trusted HTML placed under the title (the lab's "what happened and why").
    """
    e = html.escape
    verdict_word = "REGRESSION" if comparison.regressed else "no regression"
    gates = _gate_pairs(base, head)
    figures = [f for f in comparison.figures if not f.name.startswith("[") or f.verdict in MOVED]
    return "\n".join(
        [
            "<!doctype html><html lang=en><meta charset=utf-8>",
            f"<title>{e(title or 'Comparison of two load tests')}</title><style>{_CSS}</style>",
            f"<h1>{e(title or f'Load test {comparison.scenario}: {labels[1]} against {labels[0]}')}"
            f' <span class="verdict {"failed" if comparison.regressed else "passed"}">'
            f"{verdict_word}</span></h1>",
            f'<p class="meta">{e(labels[0])}: {e(comparison.base)} · '
            f"{e(labels[1])}: {e(comparison.head)}</p>",
            preface,
            "<h2>Gate verdicts</h2>",
            _table(
                ["gate", f"{labels[0]}", "status", f"{labels[1]}", "status"],
                [[name, *_gate_cells(b), *_gate_cells(h)] for name, b, h in gates],
                [
                    "fail" if any(r is not None and r["status"] == "fail" for r in (b, h)) else ""
                    for _, b, h in gates
                ],
            ),
            "<h2>Figures against noise</h2>",
            _table(
                ["figure", labels[0], labels[1], "shift (worse +)", "noise band", "p", "verdict"],
                [
                    [
                        f.name,
                        _figure_value(f.unit, f.base),
                        _figure_value(f.unit, f.head),
                        _figure_value(f.unit, f.shift),
                        _figure_value(f.unit, f.band),
                        f"{f.p_value:.4f}",
                        f.verdict,
                    ]
                    for f in figures
                ],
                ["fail" if f.verdict == REGRESSION else "" for f in figures],
            ),
            "".join(f"<p class=meta>{e(note)}</p>" for note in comparison.notes),
            "<h2>Over time</h2>",
            *comparison_charts(base, head, labels=labels, highlight=highlight),
            "</html>",
        ]
    )


def _figure_value(unit: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} ms" if unit == "ms" else f"{value:.2%}"
