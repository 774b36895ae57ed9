"""Prometheus rules for the critical routes' SLOs, written from the ownership manifest.

Multi-window, multi-burn-rate alerts (the Google SRE workbook, "Alerting on SLOs"), two
objectives per critical route (the money path, checkout included):

- latency: 95% of requests answered within the route's p95 SLO (a budget of 5%), the
  bad share read off the histogram bucket at the SLO (every SLO is a bucket bound);
- availability: 99.9% of answers not 5xx (a budget of 0.1%).

Each objective's bad share is recorded over 5m, 30m, 1h, 2h, 6h, 1d and 3d. A page when
the budget burns 14.4 times too fast over 1h (and still over 5m), or 6 times over 6h
(and 30m); a ticket at 3 times over 1d (and 2h), or 1 time over 3d (and 6h). The short
window stops an alert as soon as the burning stops.

`python manage.py slo_rules` writes `docs/ops/prometheus-slo-rules.yml`; a test fails
when the committed file differs from what the manifest gives.
"""

from dataclasses import dataclass

from toolkit.manifest import Criticality, OwnershipManifest

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
LATENCY_BUDGET = 0.05
AVAILABILITY_BUDGET = 0.001
RUNBOOKS = "docs/runbooks"


@dataclass(frozen=True)
class BurnAlert:
    severity: str
    conditions: tuple[tuple[str, str, float], ...]  # (long window, short window, burn rate)


BURN_ALERTS = {
    "Fast": BurnAlert("page", (("1h", "5m", 14.4), ("6h", "30m", 6.0))),
    "Slow": BurnAlert("ticket", (("1d", "2h", 3.0), ("3d", "6h", 1.0))),
}
OBJECTIVES = {
    # name: (recorded series, budget, what is bad)
    "Latency": (
        "peakstore:slo_latency_bad:ratio_rate",
        LATENCY_BUDGET,
        "answers slower than the SLO",
    ),
    "Error": ("peakstore:slo_errors_bad:ratio_rate", AVAILABILITY_BUDGET, "5xx answers"),
}


def _le(seconds: float) -> str:
    """A bucket bound as prometheus_client writes it (`0.25`, `1.0`)."""
    return repr(float(seconds))


def slo_rules_yaml(manifest: OwnershipManifest) -> str:
    """The rules file for the manifest's critical routes, as YAML text."""
    routes = sorted(
        (route for route in manifest.routes if route.criticality is Criticality.CRITICAL),
        key=lambda route: route.view_name,
    )
    pattern = "|".join(route.view_name for route in routes)
    lines = [
        "# Written by `python manage.py slo_rules` from the ownership manifest: do not edit.",
        "# Multi-window, multi-burn-rate SLO alerts on the critical routes"
        " (storefront/ops/slo_rules.py).",
        "groups:",
        "  - name: peakstore-slo-recording",
        "    rules:",
    ]
    for window in WINDOWS:
        for route in routes:
            selector = f'route="{route.view_name}"'
            count = (
                "sum by (route) (rate(peakstore_http_request_duration_seconds_count"
                f"{{{selector}}}[{window}]))"
            )
            within = (
                "sum by (route) (rate(peakstore_http_request_duration_seconds_bucket"
                f'{{{selector},le="{_le(route.slo_p95_ms / 1000)}"}}[{window}]))'
            )
            lines += [
                f"      - record: peakstore:slo_latency_bad:ratio_rate{window}",
                f"        expr: ({count} - {within}) / {count}",
                f'        labels: {{route: "{route.view_name}"}}',  # one rule per route
            ]
        responses = f'peakstore_http_responses_total{{route=~"{pattern}"'
        lines += [
            f"      - record: peakstore:slo_errors_bad:ratio_rate{window}",
            f'        expr: sum by (route) (rate({responses},status="5xx"}}[{window}]))'
            f" / sum by (route) (rate({responses}}}[{window}]))",
        ]
    lines += ["  - name: peakstore-slo-alerts", "    rules:"]
    for objective, (series, budget, bad) in OBJECTIVES.items():
        for speed, alert in BURN_ALERTS.items():
            name = f"Peakstore{objective}BudgetBurn{speed}"
            expr = " or ".join(
                f"({series}{long} > {rate * budget:g} and {series}{short} > {rate * budget:g})"
                for long, short, rate in alert.conditions
            )
            lines += [
                f"      - alert: {name}",
                f"        expr: {expr}",
                "        for: 2m",
                f"        labels: {{severity: {alert.severity}}}",
                "        annotations:",
                f'          summary: "{{{{ $labels.route }}}} is spending its error budget'
                f' ({bad}) too fast."',
                f"          runbook: {RUNBOOKS}/{name}.md",
            ]
    return "\n".join(lines) + "\n"
