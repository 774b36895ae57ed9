"""Run a scenario's Locust mix headless against a running stack, and read its results.

Locust runs as a subprocess (its gevent monkey-patching must stay out of this process)
and writes its HTML report, CSV and JSON stats into the report folder. The runner reads
the JSON stats and reports p50/p95/p99, requests per second and error rate per journey
(the bracketed prefix of each request name, see `loadtests/users.py`) and in total.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from storefront.settings.environment import BASE_DIR
from storefront.stack.processes import ProcessSpec, Stack, StackConfig, StackError
from storefront.stack.scenarios import Scenario
from storefront.stack.snapshot import catalog_snapshot_write

LOCUSTFILE = BASE_DIR / "loadtests" / "locustfile.py"
PROGRESS_EVERY_S = 10.0
_JOURNEY = re.compile(r"^\[([\w-]+)\]")


@dataclass(frozen=True)
class JourneyStats:
    name: str
    requests: int
    failures: int
    p50_ms: int
    p95_ms: int
    p99_ms: int
    rps: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class LoadSummary:
    scenario: str
    duration_s: float
    journeys: tuple[JourneyStats, ...]
    total: JourneyStats
    # Exceptions raised in user code: bugs in a journey, counted as errors.
    exceptions: int

    @property
    def error_rate(self) -> float:
        requests = self.total.requests
        return (self.total.failures + self.exceptions) / requests if requests else 1.0

    def passed(self, *, error_budget: float) -> bool:
        return self.total.requests > 0 and self.error_rate <= error_budget

    def as_dict(self) -> dict:
        return {**asdict(self), "error_rate": self.error_rate}


def percentile(histogram: Counter[int], percent: float) -> int:
    """Return the response time that `percent` of requests finished within (Locust's rule)."""
    count = sum(histogram.values())
    allowed_above = count - int(count * percent)
    seen = 0
    for response_time in sorted(histogram, reverse=True):
        seen += histogram[response_time]
        if seen >= allowed_above:
            return response_time
    return 0


def _journey_stats(name: str, entries: list[dict], duration_s: float) -> JourneyStats:
    histogram: Counter[int] = Counter()
    for entry in entries:
        histogram.update({int(ms): n for ms, n in entry["response_times"].items()})
    requests = sum(entry["num_requests"] for entry in entries)
    return JourneyStats(
        name=name,
        requests=requests,
        failures=sum(entry["num_failures"] for entry in entries),
        p50_ms=percentile(histogram, 0.50),
        p95_ms=percentile(histogram, 0.95),
        p99_ms=percentile(histogram, 0.99),
        rps=requests / duration_s if duration_s else 0.0,
    )


def summarize(scenario: str, entries: Iterable[dict], *, exceptions: int = 0) -> LoadSummary:
    """Summarize Locust's `--json-file` entries per journey and in total."""
    entries = list(entries)
    if entries:
        started = min(entry["start_time"] for entry in entries)
        ended = max(entry["last_request_timestamp"] or started for entry in entries)
        duration_s = max(ended - started, 1e-3)
    else:
        duration_s = 0.0
    by_journey: dict[str, list[dict]] = {}
    for entry in entries:
        match = _JOURNEY.match(entry["name"])
        by_journey.setdefault(match.group(1) if match else "other", []).append(entry)
    return LoadSummary(
        scenario=scenario,
        duration_s=round(duration_s, 1),
        journeys=tuple(
            _journey_stats(name, rows, duration_s) for name, rows in sorted(by_journey.items())
        ),
        total=_journey_stats("total", entries, duration_s),
        exceptions=exceptions,
    )


def summary_table(summary: LoadSummary) -> str:
    header = (
        f"{'journey':<10} {'requests':>9} {'errors':>7} {'error %':>8} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'req/s':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in (*summary.journeys, summary.total):
        lines.append(
            f"{row.name:<10} {row.requests:>9,} {row.failures:>7,} {row.error_rate:>8.2%} "
            f"{row.p50_ms:>7} {row.p95_ms:>7} {row.p99_ms:>7} {row.rps:>8.1f}"
        )
    lines.append(
        f"{summary.duration_s:.0f}s; error rate {summary.error_rate:.2%} "
        f"(failures {summary.total.failures}, exceptions in user code {summary.exceptions})"
    )
    return "\n".join(lines)


def _exception_count(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open(newline="") as file:
        return sum(int(row.get("Count") or 0) for row in csv.DictReader(file))


def _progress_line(history_csv: Path, scenario: Scenario) -> str | None:
    """Describe the run so far from Locust's per-second history CSV."""
    if not history_csv.exists():
        return None
    with history_csv.open(newline="") as file:
        rows = [row for row in csv.DictReader(file) if row.get("Name") == "Aggregated"]
    if not rows:
        return None
    first, last = rows[0], rows[-1]
    elapsed = int(last["Timestamp"]) - int(first["Timestamp"])
    return (
        f"  {elapsed:>3}s/{scenario.run_time_s}s  users {last['User Count']:>3}  "
        f"requests {int(last['Total Request Count']):>7,}  "
        f"failures {int(last['Total Failure Count']):>4,}  "
        f"now {float(last['Requests/s']):6.1f} req/s"
    )


def locust_process(*, scenario: Scenario, host: str, report_dir: Path) -> ProcessSpec:
    return ProcessSpec(
        name="locust",
        argv=(
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--only-summary",
            "--users",
            str(scenario.users),
            "--spawn-rate",
            str(scenario.spawn_rate),
            "--run-time",
            f"{scenario.run_time_s}s",
            "--stop-timeout",
            "5",
            "--host",
            host,
            "--html",
            str(report_dir / "locust.html"),
            "--csv",
            str(report_dir / "locust"),
            "--json-file",
            str(report_dir / "locust"),
            # The verdict is ours (error budget, expected refusals); Locust's exit code
            # then means only "the run itself worked".
            "--exit-code-on-error",
            "0",
            *scenario.user_classes,
        ),
    )


def scenario_run(
    *,
    scenario: Scenario,
    host: str,
    report_dir: Path,
    write: Callable[[str], None] = print,
) -> LoadSummary:
    """Snapshot the catalog, run the scenario's Locust mix against `host`, summarize it.

    Bounded three ways: the scenario's run time (plus a margin, then Locust is killed),
    its user count, and its request budget (Locust stops itself once it is spent).
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    snapshot_path = report_dir / "catalog-snapshot.json"
    counts = catalog_snapshot_write(path=snapshot_path)
    write(
        f"Catalog snapshot: {counts['categories']} categories, {counts['products']} products "
        f"({counts['buyable']} buyable), {counts['search_terms']} search terms."
    )
    write(
        f"Locust: scenario {scenario.name!r}, {scenario.users} users for "
        f"{scenario.run_time_s}s (at most {scenario.max_requests:,} requests) against {host}"
    )
    config = StackConfig(
        env={
            "PYTHONPATH": str(BASE_DIR),
            "PEAKSTORE_CATALOG_SNAPSHOT": str(snapshot_path),
            "PEAKSTORE_LOAD_MAX_REQUESTS": str(scenario.max_requests),
        },
        log_dir=report_dir,
        stop_grace=15.0,
    )
    locust = locust_process(scenario=scenario, host=host, report_dir=report_dir)
    deadline_s = scenario.run_time_s + 60
    with Stack(config, processes=[locust]) as runner:
        waited = 0.0
        while (code := runner.wait_exit("locust", timeout=PROGRESS_EVERY_S)) is None:
            waited += PROGRESS_EVERY_S
            if waited > deadline_s:
                raise StackError(f"Locust still running after {deadline_s}s; stopped it")
            if line := _progress_line(report_dir / "locust_stats_history.csv", scenario):
                write(line)
    if code != 0:
        raise StackError(f"Locust exited with code {code}; see {report_dir / 'locust.log'}")
    summary = summarize(
        scenario.name,
        json.loads((report_dir / "locust.json").read_text()),
        exceptions=_exception_count(report_dir / "locust_exceptions.csv"),
    )
    (report_dir / "summary.json").write_text(json.dumps(summary.as_dict(), indent=2))
    return summary
