"""Read a run's results folder into figures: per journey, per phase, and over time.

The folder holds what the run left (see `loadtests/recorder.py` and the runner):
`events.csv` (one row per request), `users.csv` (one row per second), `phases.json`
(the shape's timeline), `slos.json` (each request name's route and its p95 SLO, written
by the runner from the store's ownership manifest) and, when the store exposes /metrics,
`metrics.jsonl` (one scrape every few seconds). Nothing here needs Locust or Django,
so the same code reads a local run, a distributed run's master folder, or a fixture in
a test.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from loadtests.outcomes import ERROR, OK, REFUSED, SHED
from perfstats.quantiles import percentiles

ORDER_REQUEST = re.compile(r"/api/v1/orders/$")
# Admission control's signals in /metrics (a store without them leaves these series empty).
ADMISSION_WAIT = "peakstore_admission_expected_wait_seconds"
ADMISSION_BUDGET = "peakstore_admission_budget_seconds"
ADMISSION_OVERLOAD = "peakstore_admission_overload_wait_seconds"
REQUESTS_SHED = "peakstore_requests_shed_total"
CACHE_EVENTS = "peakstore_cache_events_total"
# SQL statements by route, and requests by route and method: their ratio is the mean.
QUERIES = "peakstore_http_request_queries_total"
REQUESTS = "peakstore_http_request_duration_seconds_count"
# Counters the report charts as rates and a `rate_peak_ratio` gate may judge, by name.
RATE_COUNTERS = {
    "SQL statements/s": r"^peakstore_http_request_queries_total\{",
    "cache recomputes/s": r'^peakstore_cache_events_total\{.*event="recompute"',
    # The namespaces whose entries live minutes to an hour (catalog, listing prices, the
    # search read model): they recompute when their data changes, so a release that
    # retires them shows as a storm the short-lived ones (pages 30 s, availability 5 s,
    # recomputed all the time by design) would drown.
    "long-lived cache recomputes/s": (
        r'^peakstore_cache_events_total\{.*event="recompute".*'
        r'namespace="(catalog\.[a-z_]+|pricing\.price|search\.documents)"'
    ),
}
TAGGED_PAGE_LOOKUPS = "peakstore_page_cache_tagged_lookups_total"
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Event:
    t: float
    journey: str
    name: str
    ms: float
    outcome: str
    request_id: str = ""  # the store's X-Request-ID (event logs before it have none)


@dataclass(frozen=True)
class Figures:
    """Requests of one journey (or all) in one window of the run."""

    requests: int  # every answer, shed included
    served: int  # answers the store did the work for: ok + refused + error
    errors: int
    shed: int
    refused: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float

    @property
    def error_rate(self) -> float:
        """Unexpected errors over admitted (not shed) requests."""
        return self.errors / self.served if self.served else 0.0

    @property
    def shed_ratio(self) -> float:
        return self.shed / self.requests if self.requests else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "error_rate": self.error_rate, "shed_ratio": self.shed_ratio}


@dataclass(frozen=True)
class Attainment:
    """How many offered requests (admitted + shed) were answered within their route's SLO.

    A request meets its SLO when it succeeded (`ok`, or an expected refusal: the store
    answered as designed) no slower than its route's p95 SLO. Shed requests and errors
    are misses: turning a visitor away is not a fast answer.
    """

    offered: int
    within: int
    slow: int  # answered successfully, but slower than the SLO
    shed: int
    errors: int
    slo_ms: tuple[float, ...]  # the distinct SLOs of the routes involved

    @property
    def ratio(self) -> float:
        return self.within / self.offered if self.offered else 1.0

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def attainment(events: Sequence[Event], slos: Mapping[str, float]) -> Attainment:
    """Attainment of `events`, each judged against the SLO of its request name in `slos`."""
    within = slow = 0
    for event in events:
        if event.outcome in (OK, REFUSED):
            if event.ms <= slos[event.name]:
                within += 1
            else:
                slow += 1
    return Attainment(
        offered=len(events),
        within=within,
        slow=slow,
        shed=sum(e.outcome == SHED for e in events),
        errors=sum(e.outcome == ERROR for e in events),
        slo_ms=tuple(sorted({slos[e.name] for e in events})),
    )


def figures(events: Sequence[Event], seconds: float) -> Figures:
    """Figures of these events; latency percentiles (nearest rank, `perfstats`) over
    admitted requests only."""
    admitted = [e.ms for e in events if e.outcome != SHED]
    p50, p95, p99 = percentiles(admitted, 0.50, 0.95, 0.99)
    return Figures(
        requests=len(events),
        served=len(admitted),
        errors=sum(e.outcome == ERROR for e in events),
        shed=sum(e.outcome == SHED for e in events),
        refused=sum(e.outcome == REFUSED for e in events),
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        rps=round(len(events) / seconds, 2) if seconds > 0 else 0.0,
    )


@dataclass(frozen=True)
class Checkout:
    """Orders placed through the API (buyers and the flash-sale crowd)."""

    attempted: int
    placed: int
    refused: int  # sold out or declined: the store answered as designed
    failed: int
    shed: int

    @property
    def completion(self) -> float:
        """Placed over admitted attempts that were not an expected refusal."""
        admitted = self.placed + self.failed
        return self.placed / admitted if admitted else 1.0

    def as_dict(self) -> dict:
        return {**asdict(self), "completion": self.completion}


@dataclass(frozen=True)
class PhaseSpan:
    name: str
    start_s: float
    end_s: float
    users: int = 0
    faults: str | None = None


@dataclass
class RunResults:
    scenario: str
    started_at: float
    duration_s: float
    events: list[Event]
    phases: list[PhaseSpan]
    users: list[tuple[float, int]]  # (seconds into the run, users)
    metrics: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    # Release decisions taken during the run (releases.json): seconds into the run, and
    # the decision as `rollout decisions` prints it.
    releases: list[tuple[float, dict]] = field(default_factory=list)
    # Each request name's route p95 SLO in ms (slos.json); empty when the runner left none.
    slos: dict[str, float] = field(default_factory=dict)
    # The steps of deploys run during the run (deploys.json, `manage.py deploy`'s markers):
    # seconds into the run when the step started, and the marker.
    deploys: list[tuple[float, dict]] = field(default_factory=list)

    # --- aggregates -------------------------------------------------------------------
    def journeys(self) -> list[str]:
        return sorted({event.journey for event in self.events})

    def overall(self, journey: str | None = None) -> Figures:
        return figures(self._events(journey, None), self.duration_s)

    def in_phase(self, phase: str, journey: str | None = None) -> Figures | None:
        span = self.phase_span(phase)
        if span is None:
            return None
        return figures(self._events(journey, span), span.end_s - span.start_s)

    def slo_attainment(self, journey: str, phase: str | None = None) -> Attainment | None:
        """The journey's SLO attainment over offered requests (in one phase, or the whole
        run); None when it has no requests there or one of them has no known SLO."""
        span = self.phase_span(phase) if phase else None
        if phase and span is None:
            return None
        chosen = self._events(journey, span)
        if not chosen or any(e.name not in self.slos for e in chosen):
            return None
        return attainment(chosen, self.slos)

    def phase_span(self, name: str) -> PhaseSpan | None:
        """When a phase ran (seconds into the run), or None if the run had no such phase."""
        return next((p for p in self.phases if p.name == name), None)

    def _events(self, journey: str | None, span: PhaseSpan | None) -> list[Event]:
        """The events of a journey (or all), within a phase (or the whole run)."""
        return [
            e
            for e in self.events
            if (journey is None or e.journey == journey)
            and (span is None or span.start_s <= e.t - self.started_at < span.end_s)
        ]

    def checkout(self) -> Checkout:
        orders = [e for e in self.events if ORDER_REQUEST.search(e.name)]
        return Checkout(
            attempted=len(orders),
            placed=sum(e.outcome == OK for e in orders),
            refused=sum(e.outcome == REFUSED for e in orders),
            failed=sum(e.outcome == ERROR for e in orders),
            shed=sum(e.outcome == SHED for e in orders),
        )

    def funnel(self) -> dict[str, int]:
        """The API buyers' funnel as the load generator saw it (admitted steps only)."""
        steps = {"carts created": "/api/v1/carts/", "lines added": "/lines/"}
        counts = {
            label: sum(1 for e in self.events if e.name.endswith(suffix) and e.outcome == OK)
            for label, suffix in steps.items()
        }
        checkout = self.checkout()
        return {
            **counts,
            "orders attempted": checkout.attempted - checkout.shed,
            "orders placed": checkout.placed,
        }

    # --- over time --------------------------------------------------------------------
    def bucket_s(self) -> int:
        return max(1, math.ceil(self.duration_s / 120))

    def timeline(self, journey: str | None = None) -> list[tuple[float, Figures]]:
        """Figures per time bucket (seconds into the run, figures)."""
        size = self.bucket_s()
        buckets: dict[int, list[Event]] = defaultdict(list)
        for event in self.events:
            if journey is None or event.journey == journey:
                buckets[int((event.t - self.started_at) // size)].append(event)
        last = int(self.duration_s // size)
        return [(index * size, figures(buckets.get(index, []), size)) for index in range(last + 1)]

    def metric_rates(self, pattern: str, *, group_by: str | None = None) -> dict[str, list]:
        """Per-second rate of counters whose sample key matches `pattern`, between scrapes.

        Grouped by one label's value (or all summed under the metric name).
        """
        regex = re.compile(pattern)
        series: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for (t0, before), (t1, after) in zip(self.metrics, self.metrics[1:], strict=False):
            totals: dict[str, float] = defaultdict(float)
            for key, value in after.items():
                if not regex.search(key):
                    continue
                label = _labels(key).get(group_by, "") if group_by else _name(key)
                totals[label] += max(0.0, value - before.get(key, 0.0))
            for label, delta in totals.items():
                series[label].append((t1 - self.started_at, delta / max(t1 - t0, 1e-3)))
        return dict(series)

    def metric_gauge(self, pattern: str) -> dict[str, list]:
        regex = re.compile(pattern)
        series: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for t, sample in self.metrics:
            for key, value in sample.items():
                if regex.search(key):
                    series[_display(key)].append((t - self.started_at, value))
        return dict(series)

    def cache_hit_ratio(self) -> list[tuple[float, float]]:
        hits = self.metric_rates(r'^peakstore_cache_events_total\{.*event="hit"')
        misses = self.metric_rates(r'^peakstore_cache_events_total\{.*event="miss"')
        hit_series = dict(hits.get("peakstore_cache_events_total", []))
        miss_series = dict(misses.get("peakstore_cache_events_total", []))
        ratio = []
        for t in sorted(set(hit_series) | set(miss_series)):
            total = hit_series.get(t, 0.0) + miss_series.get(t, 0.0)
            if total > 0:
                ratio.append((t, hit_series.get(t, 0.0) / total))
        return ratio

    def gauge_max(self, name: str, *, group_by: str | None = None) -> dict[str, list]:
        """A gauge over time, by one label's value (or under its name), the largest value
        across the others: multiprocess gauges carry one sample per process (`pid`)."""
        series: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for t, sample in self.metrics:
            largest: dict[str, float] = {}
            for key, value in sample.items():
                if _name(key) != name or not math.isfinite(value):
                    continue
                label = _labels(key).get(group_by, "") if group_by else name
                largest[label] = max(value, largest.get(label, value))
            for label, value in largest.items():
                series[label].append((t - self.started_at, value))
        return dict(series)

    def counter_growth(self, name: str, *, group_by: str) -> dict[str, float]:
        """How much a counter grew from the first scrape to the last, by one label's value."""
        if not self.metrics:
            return {}
        first, last = self.metrics[0][1], self.metrics[-1][1]
        growth: dict[str, float] = defaultdict(float)
        for key, value in last.items():
            if _name(key) == name:
                growth[_labels(key).get(group_by, "")] += value - first.get(key, 0.0)
        return dict(growth)

    def admission_wait(self) -> list[tuple[float, float]]:
        """Admission control's expected queueing wait over the run, seconds (may be empty)."""
        return self.gauge_max(ADMISSION_WAIT).get(ADMISSION_WAIT, [])

    def admission_overload_wait(self) -> list[tuple[float, float]]:
        """The expected wait that, standing, is an overload, over the run (may be empty)."""
        return self.gauge_max(ADMISSION_OVERLOAD).get(ADMISSION_OVERLOAD, [])

    def admission_budgets(self) -> dict[str, list]:
        """Each route class's wait budget over the run, seconds (classes never shed have none)."""
        return self.gauge_max(ADMISSION_BUDGET, group_by="route_class")

    def shed_by_class(self) -> dict[str, int]:
        """Requests the store shed during the run, by route class (its own counter)."""
        growth = self.counter_growth(REQUESTS_SHED, group_by="route_class")
        return {label: round(count) for label, count in sorted(growth.items()) if count > 0}

    def queries_per_request_series(self) -> list[tuple[float, float]]:
        """Mean SQL statements per request over all routes, between scrapes."""
        series = []
        for (_, before), (t1, after) in zip(self.metrics, self.metrics[1:], strict=False):
            sums = counts = 0.0
            for key, value in after.items():
                name = _name(key)
                if name == QUERIES:
                    sums += value - before.get(key, 0.0)
                elif name == REQUESTS:
                    counts += value - before.get(key, 0.0)
            if counts > 0:
                series.append((t1 - self.started_at, sums / counts))
        return series

    def tagged_page_hit_share(self) -> float | None:
        """Page-cache hits over answers for requests whose URL carried parameters the page
        does not read (campaign landings), over the run; None without such requests."""
        if len(self.metrics) < 2:
            return None
        first, last = self.metrics[0][1], self.metrics[-1][1]
        events: dict[str, float] = defaultdict(float)
        for key, value in last.items():
            if _name(key) == TAGGED_PAGE_LOOKUPS:
                events[_labels(key).get("event", "")] += value - first.get(key, 0.0)
        lookups = events["hit"] + events["miss"]
        return events["hit"] / lookups if lookups > 0 else None

    def cache_hit_share(self, namespace: str) -> float | None:
        """One cache namespace's hits (stale served included) over its lookups, over the
        run (from /metrics); None without scrapes or lookups."""
        if len(self.metrics) < 2:
            return None
        first, last = self.metrics[0][1], self.metrics[-1][1]
        events: dict[str, float] = defaultdict(float)
        for key, value in last.items():
            labels = _labels(key)
            if _name(key) == CACHE_EVENTS and labels.get("namespace") == namespace:
                events[labels.get("event", "")] += value - first.get(key, 0.0)
        hits = events["hit"] + events["stale_served"]
        lookups = hits + events["miss"]
        return hits / lookups if lookups > 0 else None

    def queries_per_request(self) -> dict[str, float]:
        """Mean SQL statements per request by route over the run (from /metrics)."""
        if len(self.metrics) < 2:
            return {}
        first, last = self.metrics[0][1], self.metrics[-1][1]
        sums: dict[str, float] = {}
        counts: dict[str, float] = {}
        for key, value in last.items():
            name, labels = _name(key), _labels(key)
            route = labels.get("route")
            if route is None:
                continue
            delta = value - first.get(key, 0.0)
            if name == QUERIES:
                sums[route] = sums.get(route, 0.0) + delta
            elif name == REQUESTS:  # one series per method
                counts[route] = counts.get(route, 0.0) + delta
        return {
            route: round(sums.get(route, 0.0) / count, 2)
            for route, count in sorted(counts.items())
            if count > 0
        }


def _name(key: str) -> str:
    match = _SAMPLE.match(key)
    return match.group("name") if match else key


def _labels(key: str) -> dict[str, str]:
    match = _SAMPLE.match(key)
    return dict(_LABEL.findall(match.group("labels") or "")) if match else {}


def _display(key: str) -> str:
    labels = _labels(key)
    return ",".join(labels.values()) or _name(key)


def events_read(path: Path) -> list[Event]:
    if not path.exists():
        return []
    with path.open(newline="") as file:
        return [
            Event(
                float(row["t"]),
                row["journey"],
                row["name"],
                float(row["ms"]),
                row["outcome"],
                row.get("request_id") or "",
            )
            for row in csv.DictReader(file)
        ]


def results_read(results_dir: Path, *, scenario: str) -> RunResults:
    """Read a results folder (see the module docstring)."""
    events = events_read(results_dir / "events.csv")
    phases_path = results_dir / "phases.json"
    document = json.loads(phases_path.read_text()) if phases_path.exists() else {}
    started_at = document.get("started_at") or (min(e.t for e in events) if events else 0.0)
    duration_s = float(document.get("duration_s") or 0.0)
    if events:
        duration_s = max(duration_s, max(e.t for e in events) - started_at)
    phases = [
        PhaseSpan(p["name"], p["start_s"], p["end_s"], p.get("users", 0), p.get("faults"))
        for p in document.get("phases", [])
    ]
    users: list[tuple[float, int]] = []
    users_path = results_dir / "users.csv"
    if users_path.exists():
        with users_path.open(newline="") as file:
            users = [(float(r["t"]) - started_at, int(r["users"])) for r in csv.DictReader(file)]
    metrics: list[tuple[float, dict[str, float]]] = []
    metrics_path = results_dir / "metrics.jsonl"
    if metrics_path.exists():
        for line in metrics_path.read_text().splitlines():
            if line.strip():
                scrape = json.loads(line)
                metrics.append((scrape["t"], scrape["samples"]))
    slos: dict[str, float] = {}
    slos_path = results_dir / "slos.json"
    if slos_path.exists():
        requests = json.loads(slos_path.read_text())["requests"]
        slos = {name: float(entry["slo_ms"]) for name, entry in requests.items()}
    releases: list[tuple[float, dict]] = []
    releases_path = results_dir / "releases.json"
    if releases_path.exists():
        for decision in json.loads(releases_path.read_text()):
            at = datetime.fromisoformat(decision["at"]).timestamp()
            releases.append((at - started_at, decision))
    deploys_path = results_dir / "deploys.json"
    deploys = [
        (marker["started_at"] - started_at, marker)
        for marker in (json.loads(deploys_path.read_text()) if deploys_path.exists() else [])
    ]
    return RunResults(
        scenario,
        started_at,
        max(duration_s, 1e-3),
        events,
        phases,
        users,
        metrics,
        releases,
        slos,
        deploys,
    )


def sample_key(name: str, labels: dict[str, str]) -> str:
    """The key a scrape stores a sample under: `name{a="x",b="y"}` (labels sorted)."""
    if not labels:
        return name
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def keep_sample(name: str) -> bool:
    """Which exposition samples a scrape keeps (the rest is histogram buckets and noise)."""
    return name.startswith("peakstore_") and not name.endswith(("_bucket", "_created"))
