"""Run a scenario's Locust shape headless against a running stack, and read its results.

Locust runs as a subprocess (its gevent monkey-patching must stay out of this process)
and writes its HTML report, CSV and JSON stats, and Peakstore's event log
(`loadtests/recorder.py`), into the report folder. While it runs, this process scrapes
the store's /metrics every few seconds into `metrics.jsonl` for the report's series.
Afterwards the runner writes `slos.json` (each request name's route and that route's
p95 SLO from the ownership manifest, for the SLO attainment gates), summarizes the event
log (p50/p95/p99, requests per second and error rate per journey, the bracketed prefix
of each request name) into `summary.json` and leaves gates and the report to
`loadtests/gates.py` and `loadtests/report.py`. The summary's figures are the report's
(`loadtests.results.figures`, percentiles from `perfstats`) over the same event log, so
one run's p95 is the same number in `summary.json`, `report.json` and the gates; Locust's
own stats (`locust.json`, `locust.html`) round response times into buckets and are left
beside them as Locust wrote them.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from django.urls import Resolver404, resolve
from prometheus_client.parser import text_string_to_metric_families

from devstack.deploy import deploy_markers_between
from devstack.processes import (
    ProcessSpec,
    Stack,
    StackConfig,
    StackError,
    free_port,
    loopback_open,
)
from devstack.snapshot import catalog_snapshot_write
from loadtests.names import path_of
from loadtests.results import (
    Figures,
    RunResults,
    events_read,
    keep_sample,
    results_read,
    sample_key,
)
from loadtests.scenarios import Scenario
from storefront.settings.environment import BASE_DIR
from toolkit.manifest import ownership_manifest
from toolkit.priority import BOOT_NICENESS
from toolkit.routes import UNMATCHED_ROUTE

LOCUSTFILE = BASE_DIR / "loadtests" / "locustfile.py"
PROGRESS_EVERY_S = 10.0
METRICS_EVERY_S = 5.0
# A placeholder segment of a request name (`[slug]`, `[token]`, `[sku]`).
_PLACEHOLDER = re.compile(r"\[[^\]/]*\]")
SLOS_FILE = "slos.json"


@dataclass(frozen=True)
class JourneyStats:
    """Admitted requests of one journey (or all): shed requests are counted apart."""

    name: str
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
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


def _journey_stats(name: str, figures: Figures, duration_s: float) -> JourneyStats:
    return JourneyStats(
        name=name,
        requests=figures.served,
        failures=figures.errors,
        p50_ms=figures.p50_ms,
        p95_ms=figures.p95_ms,
        p99_ms=figures.p99_ms,
        rps=figures.served / duration_s if duration_s else 0.0,
    )


def summarize(results: RunResults, *, exceptions: int = 0) -> LoadSummary:
    """Summarize a run's event log per journey and in total; shed requests are left out
    (the report counts them apart). The figures are the report's, from the same events."""
    duration_s = results.duration_s if results.events else 0.0
    return LoadSummary(
        scenario=results.scenario,
        duration_s=round(duration_s, 1),
        journeys=tuple(
            _journey_stats(journey, results.overall(journey), duration_s)
            for journey in results.journeys()
        ),
        total=_journey_stats("total", results.overall(), duration_s),
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
            f"{row.p50_ms:>7.0f} {row.p95_ms:>7.0f} {row.p99_ms:>7.0f} {row.rps:>8.1f}"
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


def request_route(name: str) -> str:
    """The route a request name stands for: `[browse] /c/[slug]/?filter` -> `pages:category`.

    A name is a path template: the query is dropped, and a placeholder becomes `1`, which
    every converter on a page or API path accepts (slug, str, int, row id).
    """
    try:
        return resolve(_PLACEHOLDER.sub("1", path_of(name))).view_name
    except Resolver404:
        return UNMATCHED_ROUTE


def route_slos_write(*, results_dir: Path) -> dict[str, dict]:
    """Write `slos.json`: every request name of the run, its route and the route's p95 SLO.

    The SLO attainment gates judge each request against its route's SLO as the ownership
    manifest declares it, and `loadtests` reads this file instead of importing the store.
    Returns the table written.
    """
    manifest = ownership_manifest()
    table = {}
    for name in sorted({event.name for event in events_read(results_dir / "events.csv")}):
        route = request_route(name)
        if (entry := manifest.route(route)) is not None:
            table[name] = {"route": route, "slo_ms": entry.slo_p95_ms}
    (results_dir / SLOS_FILE).write_text(json.dumps({"requests": table}, indent=1) + "\n")
    return table


class MetricsSampler(threading.Thread):
    """Scrape the store's /metrics every few seconds into `metrics.jsonl` while Locust runs.

    Keeps only Peakstore's own counters and gauges (histogram buckets are dropped; sums
    and counts stay). A store without /metrics leaves an empty file and the report says so.
    """

    def __init__(self, *, url: str, path: Path, every_s: float = METRICS_EVERY_S) -> None:
        super().__init__(name="metrics-sampler", daemon=True)
        self.url, self.path, self.every_s = url, path, every_s
        self.scrapes = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        with self.path.open("w") as file:
            while True:
                if samples := self.scrape():
                    file.write(json.dumps({"t": round(time.time(), 3), "samples": samples}) + "\n")
                    file.flush()
                    self.scrapes += 1
                if self._stop_event.wait(self.every_s):
                    break
            if samples := self.scrape():  # a last one, after the load stopped
                file.write(json.dumps({"t": round(time.time(), 3), "samples": samples}) + "\n")

    def scrape(self) -> dict[str, float]:
        try:
            with loopback_open(self.url, timeout=5) as response:
                text = response.read().decode()
        except (OSError, urllib.error.URLError):
            return {}
        return {
            sample_key(sample.name, sample.labels): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if keep_sample(sample.name)
        }

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=15)


def locust_processes(
    *, scenario: Scenario, host: str, report_dir: Path, master_port: int | None = None
) -> list[ProcessSpec]:
    """Locust headless with the scenario's shape: one process, or a master and its workers.

    The shape (not `--users`/`--run-time`) drives the run; it reads PEAKSTORE_LOAD_*. With
    `scenario.workers`, the first process is `--master` (shape, stats, event log, reports)
    and waits for that many `--worker` processes, which run the users and send their
    events to it: the same commands a run across hosts uses (docs/scale-out.md).
    Otherwise one local runner, with `--processes` when the scenario asks for more.
    """
    port = master_port or (free_port() if scenario.workers > 0 else 0)
    if scenario.workers > 0:
        mode: tuple[str, ...] = (
            "--master",
            "--master-bind-host", "127.0.0.1",
            "--master-bind-port", str(port),
            "--expect-workers", str(scenario.workers),
            "--expect-workers-max-wait", "60",
        )  # fmt: skip
    elif scenario.processes > 1:
        mode = ("--processes", str(scenario.processes))
    else:
        mode = ()
    master = ProcessSpec(
        name="locust",
        argv=(
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--only-summary",
            *mode,
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
            # The verdict is ours (gates, expected refusals, shed); Locust's exit code
            # then means only "the run itself worked".
            "--exit-code-on-error",
            "0",
        ),
    )
    worker_argv = (
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
        "--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
    )  # fmt: skip
    workers = [
        ProcessSpec(name=f"locust-worker-{number}", argv=worker_argv)
        for number in range(1, scenario.workers + 1)
    ]
    return [master, *workers]


def locust_env(
    *,
    scenario: Scenario,
    report_dir: Path,
    snapshot_path: Path,
    stack: StackConfig,
    token: str,
    loadgen_key: str = "",
    hosts: tuple[str, ...] = (),
) -> dict[str, str]:
    """What the locustfile reads (see its docstring)."""
    return {
        # Web stacks the users take in turn (loadtests/users.py); none: --host alone.
        "PEAKSTORE_LOAD_HOSTS": ",".join(hosts),
        "PYTHONPATH": str(BASE_DIR),
        "PEAKSTORE_CATALOG_SNAPSHOT": str(snapshot_path),
        "PEAKSTORE_LOAD_MAX_REQUESTS": str(scenario.max_requests),
        "PEAKSTORE_LOAD_SHAPE": scenario.shape,
        "PEAKSTORE_LOAD_USERS": str(scenario.users),
        "PEAKSTORE_LOAD_DURATION": str(scenario.run_time_s),
        "PEAKSTORE_LOAD_RESULTS_DIR": str(report_dir),
        "INTEGRATIONS_UPSTREAM_URL": stack.upstream_url,
        "PEAKSTORE_BACKOFFICE_TOKEN": token,
        # The store's key for the users' per-visit client ids (loadtests/users.py).
        "PEAKSTORE_LOADGEN_KEY": loadgen_key,
        # A folder of Locust's own: starting a stack empties its metrics folder, and the
        # store's workers are still writing to theirs.
        "PROMETHEUS_MULTIPROC_DIR": str(report_dir / "locust-prometheus"),
        # Empty: a fresh draw (loadtests/users.py).
        "PEAKSTORE_LOAD_SEED": "" if scenario.seed is None else str(scenario.seed),
    }


def scenario_run(
    *,
    scenario: Scenario,
    stack: StackConfig,
    report_dir: Path,
    backoffice_token: str = "",
    loadgen_key: str = "",
    hosts: tuple[str, ...] = (),
    write: Callable[[str], None] = print,
    before_load: Callable[[], None] | None = None,
) -> LoadSummary:
    """Snapshot the catalog, run the scenario's Locust shape against the stack, summarize it.

    `before_load` runs once the snapshot is written, just before Locust starts (the lab
    switches its mode on there, so that the snapshot is read the good way).

    Bounded three ways: the shape's duration (plus a margin, then Locust is killed), its
    user count, and the request budget (Locust stops itself once it is spent).
    """
    snapshot_path = _run_folder_prepare(report_dir, write=write)
    write(
        f"Locust: scenario {scenario.name!r}, shape {scenario.shape}, peak {scenario.users} "
        f"users for {scenario.run_time_s}s, {scenario.processes} process(es), "
        f"{scenario.workers} worker(s) beside a master, at most "
        f"{scenario.max_requests:,} requests, against {stack.base_url}"
    )
    config = StackConfig(
        env=locust_env(
            scenario=scenario,
            report_dir=report_dir,
            snapshot_path=snapshot_path,
            stack=stack,
            token=backoffice_token,
            loadgen_key=loadgen_key,
            hosts=hosts,
        ),
        log_dir=report_dir,
        stop_grace=15.0,
    )
    locust = locust_processes(scenario=scenario, host=stack.base_url, report_dir=report_dir)
    sampler = MetricsSampler(url=f"{stack.base_url}/metrics", path=report_dir / "metrics.jsonl")
    deployer = DeployAtPhase(scenario, stack=stack, report_dir=report_dir, write=write)
    if before_load is not None:
        before_load()
    with Stack(config, processes=locust) as runner:
        sampler.start()
        deployer.start()
        try:
            code = _locust_wait(runner, scenario=scenario, report_dir=report_dir, write=write)
        finally:
            sampler.stop()
            deployer.finish()
    if code != 0:
        raise StackError(f"Locust exited with code {code}; see {report_dir / 'locust.log'}")
    write(f"/metrics scraped {sampler.scrapes} times")
    slos = route_slos_write(results_dir=report_dir)
    write(f"Route SLOs for {len(slos)} request names (from the ownership manifest)")
    summary = summarize(
        results_read(report_dir, scenario=scenario.name),
        exceptions=_exception_count(report_dir / "locust_exceptions.csv"),
    )
    (report_dir / "summary.json").write_text(json.dumps(summary.as_dict(), indent=2))
    return summary


class DeployAtPhase(threading.Thread):
    """Run `manage.py deploy` against the stack when the scenario's deploy phase starts.

    A subprocess, as a person would run it beside the stack: it finds the stack's
    supervisor (this process) by the var dir. The deploy applies the demo release's
    migration (`PEAKSTORE_DEMO_RELEASE`: a column and an index on the products table, in
    `devstack/demo_release/`, which no other migrate applies) and retires
    `catalog.product` as a changed cached type would (`--retire`). Its output goes to
    `deploy.log`, its markers to `deploys.json` in the results folder.
    """

    # Locust needs a few seconds to start its shape: land inside the phase, not before.
    START_LAG_S = 5.0
    RETIRED = "catalog.product"

    def __init__(
        self, scenario: Scenario, *, stack: StackConfig, report_dir: Path, write: Callable
    ) -> None:
        super().__init__(name="deploy-at-phase", daemon=True)
        self.stack, self.report_dir, self.write = stack, report_dir, write
        self.at_s: float | None = None
        if scenario.deploy_phase is not None:
            self.at_s = scenario.phase_start_s(scenario.deploy_phase) + self.START_LAG_S
        self._cancel = threading.Event()
        self._began = time.time()

    def start(self) -> None:
        if self.at_s is not None:
            self._began = time.time()
            super().start()

    def run(self) -> None:
        assert self.at_s is not None
        if self._cancel.wait(self.at_s):
            return
        self.write(f"Deploying to the stack ({self.at_s:.0f}s into the run)...")
        env = {
            **os.environ,
            **self.stack.env,
            "PEAKSTORE_VAR_DIR": str(self.stack.var_dir),
            "PEAKSTORE_DEMO_RELEASE": "1",
        }
        with (self.report_dir / "deploy.log").open("w") as log:
            result = subprocess.run(
                # As `make deploy` runs it: at a low priority, beside shoppers.
                [
                    *("nice", "-n", str(BOOT_NICENESS)),
                    *(sys.executable, "manage.py", "deploy", "--retire", self.RETIRED),
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=300,
                check=False,
            )
        self.write(f"Deploy exited with code {result.returncode} (deploy.log)")

    def finish(self) -> None:
        """Wait for a deploy under way (bounded by its timeout); keep its markers."""
        if self.at_s is None:
            return
        self._cancel.set()
        self.join(timeout=310)
        markers = deploy_markers_between(self.stack.var_dir, self._began, time.time())
        (self.report_dir / "deploys.json").write_text(json.dumps(markers, indent=1))


def _run_folder_prepare(report_dir: Path, *, write: Callable[[str], None]) -> Path:
    """Clear a previous run's results from the folder, write the catalog snapshot Locust
    reads, and return the snapshot's path.

    Removing the old results first means a run that dies early is never read with a
    previous run's events, phases or metrics.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    for stale in (
        "events.csv",
        "users.csv",
        "phases.json",
        "metrics.jsonl",
        SLOS_FILE,
        "deploys.json",
    ):
        (report_dir / stale).unlink(missing_ok=True)
    snapshot_path = report_dir / "catalog-snapshot.json"
    counts = catalog_snapshot_write(path=snapshot_path)
    write(
        f"Catalog snapshot: {counts['categories']} categories, {counts['products']} products "
        f"({counts['buyable']} buyable), {counts['search_terms']} search terms."
    )
    return snapshot_path


def _locust_wait(
    runner: Stack, *, scenario: Scenario, report_dir: Path, write: Callable[[str], None]
) -> int:
    """Wait for Locust to exit, writing its progress as it goes; return its exit code.

    Raises StackError a minute past the shape's duration (leaving the Stack stops Locust).
    """
    deadline_s = scenario.run_time_s + 60
    waited = 0.0
    while (code := runner.wait_exit("locust", timeout=PROGRESS_EVERY_S)) is None:
        waited += PROGRESS_EVERY_S
        if waited > deadline_s:
            raise StackError(f"Locust still running after {deadline_s}s; stopped it")
        if line := _progress_line(report_dir / "locust_stats_history.csv", scenario):
            write(line)
    return code
