"""Benchmark the store as `make run` ships it against bare Django, side by side.

`python manage.py bench_throughput` (part of `make bench`):

1. Prepares a throwaway var dir (or `--var-dir`, kept and reused) and, on the services
   profile, a throwaway PostgreSQL database beside DATABASE_URL's with its own cache key
   prefix and Celery queue; migrates and seeds it as `make run` does (10,000 products).
2. Boots what `make run` boots (the upstream simulator, gunicorn with 2 sync workers,
   the Celery worker and beat) with default settings, admission control on and its
   one-line-per-request access log (`for_a_person`), on free loopback ports; and bare
   Django (`devstack.bare_django`: one view returning a
   constant, no middleware, no apps) under the same gunicorn command line.
3. Drives both with wrk (2 threads; 4, 16 and 64 connections; `--duration` seconds a
   run): the largest top-level category page, the most popular product page and
   /robots.txt, each plain and with campaign parameters and a click id unique to every
   request. A round measures, for each page and concurrency, bare Django, the plain page
   and the campaign page back to back (in reverse order every other round), so the
   machine's drift lands on both sides of each ratio.
4. Prints, per page, form and concurrency: good (2xx) req/s of store and bare, their
   ratio and the click-id ratio (medians of per-round ratios), the shed share, p99, and
   the CPU the gunicorn master and workers spent per answered request. Writes
   reports/bench/throughput.json; exits non-zero when a target is missed
   (`devstack.throughput`: store/bare >= 0.6 for pages, 0.7 for /robots.txt, click id
   >= 0.9 x plain, 0% shed).
"""

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from catalog.interface import category_tree, product_cards_for_category, product_cards_popular
from devstack.benchenv import bench_environment, gunicorn_cpu_seconds
from devstack.calibration import bare_process
from devstack.prepare import store_prepare
from devstack.processes import (
    Stack,
    StackConfig,
    StackError,
    for_a_person,
    free_port,
    http_status,
    sigterm_as_interrupt,
)
from devstack.throughput import (
    BARE_RATIO_TARGETS,
    CLICK_RATIO_TARGET,
    PAGES,
    Measurement,
    Row,
    rows_summarize,
    table_format,
    targets_missed,
)
from devstack.wrk import WrkError, wrk_require, wrk_run
from storefront.settings.environment import BASE_DIR, ENV

CAMPAIGN_QUERY = "utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale"
# The shipped configuration, whatever switches this shell happens to export.
WARM_SECONDS = 1


def store_paths_prepare(*, env: dict[str, str], products: int) -> dict[str, str]:
    """Migrate and seed the store `env` names (in a child: its settings differ from ours).

    Return the paths to measure by page name.
    """
    done = subprocess.run(
        [sys.executable, "manage.py", "bench_throughput", "--prepare", f"--products={products}"],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "storefront.settings", **env},
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise CommandError("preparing the store failed (see above)")
    return json.loads(done.stdout.splitlines()[-1])


def _paths_to_measure() -> dict[str, str]:
    """Return the largest top-level category, the most popular product, and /robots.txt."""
    roots = [category for category in category_tree() if category.parent_id is None]
    largest = max(roots, key=lambda root: product_cards_for_category(category=root).count)
    popular = product_cards_popular(limit=1)
    if not popular:
        raise CommandError("the store has no products")
    return {
        "category": f"/c/{largest.slug}/",
        "product": f"/p/{popular[0].slug}/",
        "robots": "/robots.txt",
    }


def page_url(base_url: str, path: str, *, form: str) -> str:
    """Return the URL of a page in its form: plain, or with campaign parameters."""
    return f"{base_url}{path}?{CAMPAIGN_QUERY}" if form == "click" else f"{base_url}{path}"


@dataclass(frozen=True)
class Server:
    """A gunicorn under measurement: where it answers, and its master's pid."""

    side: str
    base_url: str
    master_pid: int


def measure(
    server: Server,
    *,
    round_number: int,
    page: str,
    path: str,
    form: str,
    connections: int,
    duration_s: int,
) -> Measurement:
    """Run wrk once against `server`, reading its CPU time before and after."""
    cpu_before = gunicorn_cpu_seconds(server.master_pid)
    result = wrk_run(
        url=page_url(server.base_url, path, form=form),
        connections=connections,
        duration_s=duration_s,
        click=form == "click",
        nonce=uuid.uuid4().hex[:12],
    )
    return Measurement(
        round=round_number,
        side=server.side,
        page=page,
        form=form,
        connections=connections,
        result=result,
        cpu_s=gunicorn_cpu_seconds(server.master_pid) - cpu_before,
    )


def _progress_order(measurement: Measurement) -> int:
    return ["bare", "plain", "click"].index(_progress_label(measurement))


def _progress_label(measurement: Measurement) -> str:
    return "bare" if measurement.side == "bare" else measurement.form


def _progress(measurement: Measurement) -> str:
    """Return one run as the progress line shows it: `plain 1,234/s (shed 5%)`."""
    result = measurement.result
    shed = f" (shed {result.shed / result.answered:.0%})" if result.shed else ""
    return f"{_progress_label(measurement)} {result.good_per_s:,.0f}/s{shed}"


def _connections(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part.strip()]


class Command(BaseCommand):
    help = (
        "Good req/s of the store as `make run` ships it ÷ bare Django's, on category, "
        "product and /robots.txt, plain and with click ids, at 4/16/64 connections (wrk)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
        parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
        parser.add_argument(
            "--connections", type=_connections, default=[4, 16, 64], help="e.g. 4,16,64"
        )
        parser.add_argument("--products", type=int, default=10_000, help="seed size if empty")
        parser.add_argument(
            "--var-dir", type=Path, help="a var dir to seed once and reuse (kept afterwards)"
        )
        parser.add_argument(
            "--keep-var-dir", action="store_true", help="keep the throwaway var dir for reuse"
        )
        parser.add_argument("--prepare", action="store_true", help="internal: seed, print paths")

    def handle(
        self,
        *args: object,
        rounds: int,
        duration: int,
        connections: list[int],
        products: int,
        var_dir: Path | None,
        keep_var_dir: bool,
        prepare: bool,
        **_: object,
    ) -> None:
        if prepare:
            store_prepare(products=products, stdout=sys.stderr)
            self.stdout.write(json.dumps(_paths_to_measure()))
            return
        try:
            wrk_require()
        except WrkError as error:
            raise CommandError(str(error)) from None
        started = timezone.now()
        with bench_environment(var_dir=var_dir, keep=keep_var_dir, write=self.stdout.write) as env:
            paths = store_paths_prepare(env=env, products=products)
            measurements = self._run(
                env, paths, rounds=rounds, duration_s=duration, connections=connections
            )
        rows = rows_summarize(measurements)
        missed = targets_missed(rows)
        self._report(started, paths, measurements, rows, missed, duration_s=duration)
        if missed:
            raise CommandError("missed targets:\n  " + "\n  ".join(missed))
        self.stdout.write(self.style.SUCCESS("every target met"))

    def _run(
        self,
        env: dict[str, str],
        paths: dict[str, str],
        *,
        rounds: int,
        duration_s: int,
        connections: list[int],
    ) -> list[Measurement]:
        """Boot the store and bare Django, warm both, and measure `rounds` rounds."""
        var_dir = Path(env["PEAKSTORE_VAR_DIR"])
        log_dir = var_dir / "log" / "bench-throughput"
        shutil.rmtree(
            log_dir, ignore_errors=True
        )  # the previous run's: a reused var dir would pile them up
        # As `make run` starts it: its access log (one line per request) included.
        store = for_a_person(
            StackConfig(port=free_port(), simulator_port=free_port(), env=env, log_dir=log_dir)
        )
        # Its own: a stack clears its metrics dir as it starts.
        bare_metrics = str(var_dir / "bench-bare-metrics")
        bare = StackConfig(
            port=free_port(), env={**env, "PROMETHEUS_MULTIPROC_DIR": bare_metrics}, log_dir=log_dir
        )
        runs = rounds * len(connections) * len(PAGES) * 3
        self.stdout.write(
            f"store {store.base_url}, bare Django {bare.base_url}; logs in {log_dir}\n"
            f"{runs} wrk runs of {duration_s} s: about {runs * duration_s / 60:.0f} min"
        )
        measurements: list[Measurement] = []
        try:
            with (
                sigterm_as_interrupt(),
                Stack(store) as store_stack,
                Stack(bare, processes=(bare_process(bare),)) as bare_stack,
            ):
                servers = {
                    "store": Server("store", store.base_url, store_stack.pids["web"]),
                    "bare": Server("bare", bare.base_url, bare_stack.pids["bare"]),
                }
                self._warm(servers, paths)
                for number in range(rounds):
                    measurements += self._round(
                        servers,
                        paths,
                        number=number,
                        rounds=rounds,
                        duration_s=duration_s,
                        connections=connections,
                    )
                    store_stack.check_alive()
                    bare_stack.check_alive()
        except KeyboardInterrupt:
            raise CommandError("interrupted; stopped every process") from None
        except (StackError, WrkError) as error:
            raise CommandError(str(error)) from None
        return measurements

    def _warm(self, servers: dict[str, Server], paths: dict[str, str]) -> None:
        """Check that every URL answers 200, then fill the caches and wake every worker."""
        for page, path in paths.items():
            for side, form in (("bare", "plain"), ("store", "plain"), ("store", "click")):
                url = page_url(servers[side].base_url, path, form=form)
                if (status := http_status(url, timeout=30)) != 200:
                    raise CommandError(f"{url} answered {status}, not 200")
                measure(
                    servers[side],
                    round_number=-1,
                    page=page,
                    path=path,
                    form=form,
                    connections=4,
                    duration_s=WARM_SECONDS,
                )

    def _round(
        self,
        servers: dict[str, Server],
        paths: dict[str, str],
        *,
        number: int,
        rounds: int,
        duration_s: int,
        connections: list[int],
    ) -> list[Measurement]:
        """Measure every (page, concurrency) cell once: bare, plain and click back to back."""
        order = [("bare", "plain"), ("store", "plain"), ("store", "click")]
        if number % 2:
            order.reverse()
        measured = []
        for count in connections:
            for page in PAGES:
                cell = [
                    measure(
                        servers[side],
                        round_number=number,
                        page=page,
                        path=paths[page],
                        form=form,
                        connections=count,
                        duration_s=duration_s,
                    )
                    for side, form in order
                ]
                measured += cell
                self.stdout.write(
                    f"round {number + 1}/{rounds}, {count:>2} connections, {page}: "
                    + ", ".join(_progress(m) for m in sorted(cell, key=_progress_order))
                )
        return measured

    def _report(
        self,
        started: datetime,
        paths: dict[str, str],
        measurements: list[Measurement],
        rows: list[Row],
        missed: list[str],
        *,
        duration_s: int,
    ) -> None:
        """Print the table and write reports/bench/throughput.json."""
        report_dir = BASE_DIR / "reports" / "bench"
        report_dir.mkdir(parents=True, exist_ok=True)
        report = {
            "started": started.isoformat(timespec="seconds"),
            "profile": ENV.profile,
            "paths": paths,
            "campaign_query": CAMPAIGN_QUERY,
            "duration_s": duration_s,
            "rounds": len({m.round for m in measurements}),
            "web_workers": StackConfig().web_workers,
            # The machine is shared: how busy it was says how far to trust the absolutes.
            "load_average_after": os.getloadavg(),
            "targets": {
                "store_over_bare": BARE_RATIO_TARGETS,
                "click_over_plain": CLICK_RATIO_TARGET,
            },
            "rows": [asdict(row) for row in rows],
            "missed": missed,
            "measurements": [asdict(m) for m in measurements],
        }
        (report_dir / "throughput.json").write_text(json.dumps(report, indent=2))
        self.stdout.write(
            f"\n{ENV.profile} profile; {', '.join(paths.values())}; medians of "
            f"{report['rounds']} interleaved rounds of {duration_s} s wrk runs:\n"
            f"{table_format(rows)}\nReport: {report_dir / 'throughput.json'}"
        )
