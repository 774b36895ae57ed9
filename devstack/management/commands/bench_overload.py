"""Judge admission control under open-loop overload, on the store as `make run` ships it.

`python manage.py bench_overload` (part of `make bench`):

1. Prepares the store as `bench_throughput` does (a throwaway var dir, or `--var-dir`
   to seed once and reuse; on the services profile a throwaway database, cache prefix
   and queue), seeds it (10,000 products) and writes the catalog snapshot the route mix
   picks from. Boots what `make run` boots, with default settings and admission control
   on, on free loopback ports.
2. Warms the pages the mix expects warm (every category, the 100 hottest products) and
   makes the carts the cart adds go into.
3. Waits until the simulator and Celery are quiet (Celery's start-up work once took
   0.44 cores during the probe), then measures the capacity of the route mix
   (`loadtests/overload.py`: campaign landings on warm pages, uncached searches, deep
   listing pages, a crawler, API cart adds) as the goodput (2xx/s) of a closed loop
   that keeps every worker busy (`--probe-connections`).
4. Offers the mix open-loop (`loadtests/openloop.py`: Poisson arrivals, each on its own
   connection at its time) at 0.8x and 1.5x that capacity, `--duration` seconds each,
   sampling /metrics twice a second.
5. Prints per phase: offered rate, goodput, shed share per class, admitted p95 per
   route against its SLO (ownership manifest), admission control's estimated wait
   against the measured wait, and the generator's lateness; then the verdict per
   target. Writes reports/bench/overload.json; exits non-zero on a miss.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from catalog.interface import variants_by_skus
from devstack.benchenv import bench_environment, gunicorn_cpu_seconds
from devstack.loadrun import request_route
from devstack.prepare import store_prepare
from devstack.processes import (
    Stack,
    StackConfig,
    StackError,
    for_a_person,
    free_port,
    sigterm_as_interrupt,
)
from devstack.snapshot import catalog_snapshot_write
from inventory.interface import availability_for_variants
from loadtests.catalog import CatalogSnapshot, snapshot_load
from loadtests.identity import client_headers
from loadtests.openloop import (
    Request,
    Target,
    arrival_offsets,
    closed_loop_run,
    metrics_scrape,
    phase_run,
    schedule_build,
)
from loadtests.overload import (
    FACTORS,
    METRICS_PREFIXES,
    NO_SHED_PHASE,
    MixEntry,
    PhaseFigures,
    Verdict,
    cart_client_id,
    mix_picker,
    overload_mix,
    phase_figures,
    server_time,
    verdicts,
    warm_paths,
)
from storefront.settings.environment import BASE_DIR, ENV
from toolkit.manifest import ownership_manifest

SNAPSHOT = "overload-snapshot.json"
# The SKUs cart adds pick from: those with this many units available when the run
# starts. Holds last 15 minutes, so runs on a reused var dir found SKUs seeded with a
# few units held by the carts of the runs before, and a correct 409 counted as an error.
CART_SKUS = "overload-cart-skus.json"
CART_SKU_MIN_AVAILABLE = 20
CARTS = 200
SCRAPE_EVERY_S = 0.5
# Between phases: the queue drains and admission control's standing wait starts afresh.
SETTLE_S = 3.0
# Cores other processes took past this make a stretch's figures doubtful: the capacity
# probed and the capacity a phase met were not the same machine's.
BUSY_MACHINE_CORES = 0.3
# Celery's start-up work (beat's first tasks) once took 0.44 cores during the probe, which
# then under-measured the capacity by a fifth: the probe waits until the simulator and
# Celery use less than this over a second, for at most QUIET_WAIT_S.
QUIET_HELPER_CORES = 0.1
QUIET_WAIT_S = 30.0
# The below-capacity phase keeps the workers busier than this share of the probe's
# busy time with admitted requests: the machine was slower than when it was probed (it
# is shared), so the phase offered more than 0.8x of the capacity it met, and a shed
# there says little about admission control.
SLOWER_MACHINE_BUSY = 0.9


def mix_routes(mix: tuple[MixEntry, ...]) -> tuple[dict[str, tuple[str, str]], dict[str, float]]:
    """Return each request name's (route, method) and each route's p95 SLO in ms."""
    manifest = ownership_manifest()
    routes = {entry.name: (request_route(entry.template), entry.method) for entry in mix}
    slos = {}
    for route, _ in routes.values():
        entry = manifest.route(route)
        if entry is None:
            raise CommandError(f"route {route} has no entry in the ownership manifest")
        slos[route] = float(entry.slo_p95_ms)
    return routes, slos


def cart_skus_write(*, snapshot: CatalogSnapshot, path: Path) -> list[str]:
    """Write the snapshot's SKUs with CART_SKU_MIN_AVAILABLE units or more to `path`."""
    variants = variants_by_skus(skus=snapshot.buyable_skus)
    available = availability_for_variants(variant_ids=[v.id for v in variants.values()])
    ample = [
        sku
        for sku, variant in variants.items()
        if available.get(variant.id, 0) >= CART_SKU_MIN_AVAILABLE
    ]
    path.write_text(json.dumps(ample))
    return ample


def store_snapshot_prepare(
    *, env: dict[str, str], products: int
) -> tuple[CatalogSnapshot, list[str]]:
    """Migrate, seed and snapshot the store `env` names (in a child: its settings differ);
    return the snapshot and the SKUs cart adds pick from."""
    var_dir = Path(env["PEAKSTORE_VAR_DIR"])
    path = var_dir / SNAPSHOT
    done = subprocess.run(
        [sys.executable, "manage.py", "bench_overload", "--prepare", f"--products={products}"],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "storefront.settings", **env},
        check=False,
    )
    if done.returncode != 0:
        raise CommandError("preparing the store failed (see above)")
    return snapshot_load(path), json.loads((var_dir / CART_SKUS).read_text())


async def pages_warm(target: Target, paths: list[str]) -> None:
    """Request every path once, over two connections; each must answer 200."""
    queue = list(paths)

    async def client() -> None:
        while queue:
            path = queue.pop()
            status = int((await target.fetch(path))[9:12])
            if status != 200:
                raise CommandError(f"{path} answered {status}, not 200")

    await asyncio.gather(client(), client())


async def carts_create(target: Target, count: int, *, loadgen_key: str, run: str) -> list[str]:
    """Open `count` carts through the API, each as its own shopper of `run`; return their
    tokens."""
    tokens = []
    for index in range(count):
        client = tuple(client_headers(cart_client_id(index, run), loadgen_key).items())
        response = await target.fetch("/api/v1/carts/", method="POST", body=b"{}", headers=client)
        head, _, body = response.partition(b"\r\n\r\n")
        if head[9:12] != b"201":
            raise CommandError(f"POST /api/v1/carts/ answered {head[9:12].decode()}")
        tokens.append(json.loads(body)["token"])
    return tokens


class CpuMeter:
    """Count the cores used over a stretch: web workers, simulator and Celery, us, others.

    The machine is shared: cores the web workers did not get because other processes
    took them explain a capacity that moved between the probe and a phase. A process
    and its children are read as gunicorn's master and workers are (`/proc`).
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self.web = pids["web"]
        self.helpers = [pid for name, pid in pids.items() if name != "web"]
        self._start = self._read()

    def _read(self) -> tuple[float, ...]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy_ticks = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        return (
            time.monotonic(),
            gunicorn_cpu_seconds(self.web),
            sum(gunicorn_cpu_seconds(pid) for pid in self.helpers),
            time.process_time(),
            busy_ticks / os.sysconf("SC_CLK_TCK"),
        )

    def cores(self) -> dict[str, float]:
        """Cores used on average since the meter started, by whom."""
        end = self._read()
        seconds = max(end[0] - self._start[0], 1e-9)
        web, helpers, generator, busy = ((end[i] - self._start[i]) / seconds for i in range(1, 5))
        return {
            "web": round(web, 2),
            "simulator_celery": round(helpers, 2),
            "generator": round(generator, 2),
            "others": round(max(busy - web - helpers - generator, 0.0), 2),
            "idle": round(max((os.cpu_count() or 1) - busy, 0.0), 2),
        }


def busy_share(server_s: float, *, seconds: float, workers: int) -> float:
    """The share of the workers' time spent on admitted requests (their own timing)."""
    return server_s / (seconds * workers) if seconds > 0 and workers > 0 else 0.0


def slower_machine(phases: list[PhaseFigures], *, workers: int, probe_busy: float) -> str:
    """A warning when the below-capacity phase kept the workers busier than 0.8x should."""
    below = next((phase for phase in phases if phase.name == NO_SHED_PHASE), None)
    if below is None or not probe_busy:
        return ""
    ratio = busy_share(below.server_s, seconds=below.seconds, workers=workers) / probe_busy
    if ratio <= SLOWER_MACHINE_BUSY:
        return ""
    return (
        f"at {below.factor}x the workers were busy {ratio:.2f} of the probe's time with "
        "admitted requests: the machine was slower than when probed, so that phase offered "
        "more than its share of the capacity it met"
    )


def mean_server_ms(server_s: float, requests: int) -> float:
    """The server's own time per admitted request, in ms."""
    return 1e3 * server_s / requests if requests else 0.0


def goodput_factors(phase: PhaseFigures, *, workers: int, probe: dict) -> str:
    """Goodput against capacity, as the two things that make it up.

    Goodput ÷ capacity is (how busy the workers were with admitted requests ÷ how busy
    the probe kept them) times (the probe's server time per request ÷ the phase's). The
    second moves with the admitted mix: classes shed first may be cheap or dear, and
    critical requests (cart adds) are never shed, so at 1.5x they are a larger share.
    """
    busy = busy_share(phase.server_s, seconds=phase.seconds, workers=workers)
    mean = mean_server_ms(phase.server_s, phase.wait.server_requests)
    if not (probe["busy"] and probe["goodput_per_s"] and mean):
        return ""
    return (
        f"  goodput {phase.goodput_per_s / probe['goodput_per_s']:.2f}x capacity: workers "
        f"{busy / probe['busy']:.2f} as busy with admitted requests as in the probe, each "
        f"taking {mean:.1f} ms of server time against the probe's {probe['mean_server_ms']:.1f} "
        f"({probe['mean_server_ms'] / mean:.2f})"
    )


def phase_table(
    phases: list[PhaseFigures],
    cores: dict[str, dict[str, float]],
    *,
    workers: int,
    probe: dict,
) -> str:
    """The per-phase figures as the command prints them."""
    lines = []
    probe_busy = probe["busy"]
    for phase in phases:
        busy = busy_share(phase.server_s, seconds=phase.seconds, workers=workers)
        service = ", ".join(f"{route} {ms:.1f}" for route, ms in phase.service_ms.items())
        wait = phase.wait
        shed = ", ".join(f"{c} {share:.1%}" for c, share in phase.shed_by_class.items())
        late = phase.lateness
        lines += [
            f"{phase.name} ({phase.factor}x): offered {phase.offered_per_s:.1f}/s "
            f"({phase.offered} in {phase.seconds:.0f} s), goodput {phase.goodput_per_s:.1f}/s, "
            f"shed {phase.shed_share:.1%}",
            f"  shed by class: {shed}; the store's counter: {phase.server_shed}",
            *(
                f"  {r.route:<16} admitted p95 {r.p95_ms:7.1f} ms  SLO {r.slo_ms:5.0f} ms  "
                f"({r.requests} admitted)"
                for r in phase.routes
            ),
            f"  wait: estimated {_ms(wait.estimated_s)} ({wait.samples} samples), "
            f"measured {_ms(wait.measured_s)} ({wait.answered} answered, "
            f"{wait.server_requests} in the server's histogram)",
            f"  generator lateness: p50 {late.p50_ms:.2f} ms, p99 {late.p99_ms:.2f} ms, "
            f"max {late.max_ms:.1f} ms, {late.late_share:.1%} later than 1 ms, "
            f"{late.unsent} unsent; errors {phase.errors or 0}",
            f"  server ms per admitted request: {service}",
            f"  workers busy with admitted requests: {busy:.0%} of their time, "
            f"{busy / probe_busy if probe_busy else 0:.2f} of the probe's {probe_busy:.0%}",
            f"  cores used: {cores.get(phase.name, {})}",
        ]
        if phase.factor > 1 and (factors := goodput_factors(phase, workers=workers, probe=probe)):
            lines.append(factors)
    return "\n".join(lines)


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e3:.1f} ms"


@dataclass
class Session:
    """One measurement against a running store: warm it, probe it, run the phases."""

    target: Target
    pids: dict[str, int]
    rng: random.Random
    write: Callable[[str], object]
    loadgen_key: str  # the store's key for simulated clients (loadtests/identity.py)
    workers: int  # gunicorn's web workers

    async def measure(self, snapshot: CatalogSnapshot, cart_skus: list[str], options: dict) -> dict:
        """Warm, probe the capacity, then run each open-loop phase; return the figures."""
        await pages_warm(self.target, warm_paths(snapshot))
        run = f"{time.time_ns():x}"  # new shoppers every run (`cart_client_id`)
        carts = await carts_create(self.target, CARTS, loadgen_key=self.loadgen_key, run=run)
        mix = overload_mix(
            snapshot, carts=carts, cart_skus=cart_skus, loadgen_key=self.loadgen_key, run=run
        )
        routes, slos = mix_routes(mix)
        pick = mix_picker(mix)
        await self.helpers_settle()
        probe = await self.probe(
            pick,
            routes,
            connections=int(options["probe_connections"]),
            seconds=float(options["probe_duration"]),
        )
        phases, cores = [], {}
        for name, factor in FACTORS.items():
            await asyncio.sleep(SETTLE_S)
            rate = factor * probe["goodput_per_s"]
            self.write(f"{name}: {factor}x = {rate:.1f}/s for {options['duration']:g} s, open loop")
            meter = CpuMeter(self.pids)
            figures = await self.phase(
                pick,
                name=name,
                factor=factor,
                rate=rate,
                seconds=float(options["duration"]),
                max_requests=int(options["max_requests"]),
                routes=routes,
                slos=slos,
            )
            phases.append(figures)
            cores[name] = meter.cores()
        return {
            "web_workers": self.workers,
            "capacity_per_s": probe["goodput_per_s"],
            "probe": probe,
            "mix": [
                {"name": e.name, "weight": e.weight, "route": routes[e.name][0]}
                | {"route_class": e.route_class}
                for e in mix
            ],
            "phases": phases,
            "cores": cores,
        }

    async def helpers_settle(self) -> None:
        """Wait until the simulator and Celery are quiet, so the probe has the cores."""
        deadline = time.monotonic() + QUIET_WAIT_S
        while True:
            meter = CpuMeter(self.pids)
            await asyncio.sleep(1.0)
            helpers = meter.cores()["simulator_celery"]
            if helpers < QUIET_HELPER_CORES:
                return
            if time.monotonic() >= deadline:
                self.write(f"  the simulator and Celery still use {helpers:.2f} cores; probing")
                return
            self.write(f"  waiting for the simulator and Celery to settle ({helpers:.2f} cores)")

    async def probe(
        self,
        pick: Callable[[random.Random], Request],
        routes: dict[str, tuple[str, str]],
        *,
        connections: int,
        seconds: float,
    ) -> dict:
        """Measure the mix's capacity: the goodput of a closed loop keeping the workers busy."""
        self.write(f"capacity probe: closed loop, {connections} connections, {seconds:g} s")
        meter = CpuMeter(self.pids)
        before = await metrics_scrape(self.target, prefixes=METRICS_PREFIXES)
        outcomes = await closed_loop_run(
            self.target, pick, connections=connections, duration_s=seconds, rng=self.rng
        )
        after = await metrics_scrape(self.target, prefixes=METRICS_PREFIXES)
        good = sum(1 for o in outcomes if o.good)
        served = server_time([s for s in (before, after) if s is not None], routes)
        served_s = sum(t for _, t in served.values())
        probe = {
            "connections": connections,
            "seconds": seconds,
            "requests": len(outcomes),
            "good": good,
            "shed": sum(1 for o in outcomes if o.shed),
            "errors": sum(1 for o in outcomes if not (o.good or o.shed)),
            "goodput_per_s": good / seconds,
            "mean_latency_ms": 1e3 * sum(o.latency for o in outcomes) / max(len(outcomes), 1),
            "service_ms": {r: round(1e3 * t / n, 2) for r, (n, t) in served.items() if n},
            "busy": busy_share(served_s, seconds=seconds, workers=self.workers),
            "mean_server_ms": mean_server_ms(served_s, sum(n for n, _ in served.values())),
            "cores": meter.cores(),
        }
        self.write(
            f"  capacity {probe['goodput_per_s']:.1f}/s good ({probe['shed']} shed, "
            f"{probe['errors']} errors, mean latency {probe['mean_latency_ms']:.1f} ms); "
            f"server ms by route {probe['service_ms']}; cores {probe['cores']}"
        )
        return probe

    async def phase(
        self,
        pick: Callable[[random.Random], Request],
        *,
        name: str,
        factor: float,
        rate: float,
        seconds: float,
        max_requests: int,
        routes: dict[str, tuple[str, str]],
        slos: dict[str, float],
    ) -> PhaseFigures:
        """Offer the mix open-loop at `rate` for `seconds`, and sum the phase up."""
        offsets = arrival_offsets(
            rate=rate, duration_s=seconds, rng=self.rng, max_count=max_requests
        )
        run = await phase_run(
            self.target,
            schedule_build(pick, offsets, self.rng),
            duration_s=seconds,
            scrape_every_s=SCRAPE_EVERY_S,
            prefixes=METRICS_PREFIXES,
        )
        return phase_figures(
            name=name,
            factor=factor,
            seconds=seconds,
            outcomes=run.outcomes,
            scrapes=run.scrapes,
            routes=routes,
            slos=slos,
        )


class Command(BaseCommand):
    help = (
        "Open-loop overload check: a campaign route mix at 0.8x and 1.5x its measured "
        "capacity against the store as `make run` ships it (admission control on)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--duration", type=float, default=20, help="seconds per phase")
        parser.add_argument("--probe-duration", type=float, default=15, help="closed-loop s")
        parser.add_argument(
            "--probe-connections", type=int, default=4, help="closed-loop connections"
        )
        parser.add_argument(
            "--max-requests", type=int, default=20_000, help="per phase, whatever the rate"
        )
        parser.add_argument("--seed", type=int, default=13, help="arrivals and picks")
        parser.add_argument("--products", type=int, default=10_000, help="seed size if empty")
        parser.add_argument(
            "--var-dir", type=Path, help="a var dir to seed once and reuse (kept afterwards)"
        )
        parser.add_argument(
            "--keep-var-dir", action="store_true", help="keep the throwaway var dir for reuse"
        )
        parser.add_argument("--prepare", action="store_true", help="internal: seed, snapshot")

    def handle(self, *args: object, **options: Any) -> None:
        if options["prepare"]:
            store_prepare(products=int(options["products"]), stdout=sys.stderr)
            var_dir = Path(settings.PEAKSTORE_VAR_DIR)
            catalog_snapshot_write(path=var_dir / SNAPSHOT)
            cart_skus_write(snapshot=snapshot_load(var_dir / SNAPSHOT), path=var_dir / CART_SKUS)
            return
        started = timezone.now()
        with bench_environment(
            var_dir=options["var_dir"], keep=bool(options["keep_var_dir"]), write=self.stdout.write
        ) as env:
            snapshot, cart_skus = store_snapshot_prepare(env=env, products=int(options["products"]))
            report = self._run(env, snapshot, cart_skus, options)
        found = verdicts(capacity_per_s=report["capacity_per_s"], phases=report["phases"])
        self._report(started, report, found, options)
        missed = [v for v in found if not v.met]
        if missed:
            raise CommandError(f"{len(missed)} of {len(found)} targets missed (see above)")
        self.stdout.write(self.style.SUCCESS("every target met"))

    def _run(
        self, env: dict[str, str], snapshot: CatalogSnapshot, cart_skus: list[str], options: dict
    ) -> dict:
        log_dir = Path(env["PEAKSTORE_VAR_DIR"]) / "log" / "bench-overload"
        # As `make run` starts it: its access log (one line per request) included.
        config = for_a_person(
            StackConfig(port=free_port(), simulator_port=free_port(), env=env, log_dir=log_dir)
        )
        self.stdout.write(f"store {config.base_url}; logs in {log_dir}")
        try:
            with sigterm_as_interrupt(), Stack(config) as stack:
                session = Session(
                    target=Target(config.host, config.port),
                    pids=stack.pids,
                    rng=random.Random(options["seed"]),
                    write=self.stdout.write,
                    loadgen_key=env["PEAKSTORE_LOADGEN_KEY"],
                    workers=config.web_workers,
                )
                report = asyncio.run(session.measure(snapshot, cart_skus, options))
                stack.check_alive()
        except KeyboardInterrupt:
            raise CommandError("interrupted; stopped every process") from None
        except StackError as error:
            raise CommandError(str(error)) from None
        return report

    def _report(self, started: datetime, report: dict, found: list[Verdict], options: dict) -> None:
        """Print the phases and the verdict; write reports/bench/overload.json."""
        phases = report["phases"]
        workers, probe_busy = report["web_workers"], report["probe"]["busy"]
        table = phase_table(phases, report["cores"], workers=workers, probe=report["probe"])
        self.stdout.write("\n" + table + "\n")
        for verdict in found:
            mark = "met   " if verdict.met else "MISSED"
            self.stdout.write(f"{mark} {verdict.target}: {verdict.figure}")
        if slower := slower_machine(phases, workers=workers, probe_busy=probe_busy):
            self.stdout.write(self.style.WARNING(slower))
        for stretch, cores in [("probe", report["probe"]["cores"]), *report["cores"].items()]:
            if cores["others"] > BUSY_MACHINE_CORES:
                self.stdout.write(
                    self.style.WARNING(
                        f"other processes took {cores['others']:.2f} cores during the {stretch}: "
                        "the machine was busy, so capacity and verdict are doubtful; rerun "
                        "when it is quiet"
                    )
                )
        report_dir = BASE_DIR / "reports" / "bench"
        report_dir.mkdir(parents=True, exist_ok=True)
        document = {
            "started": started.isoformat(timespec="seconds"),
            "profile": ENV.profile,
            "load_average_after": os.getloadavg(),
            "options": {k: str(v) for k, v in options.items() if v is not None},
            **report,
            "phases": [asdict(phase) for phase in phases],
            "verdicts": [asdict(verdict) for verdict in found],
        }
        path = report_dir / "overload.json"
        path.write_text(json.dumps(document, indent=2))
        self.stdout.write(f"Report: {path}")
