"""Benchmark reconciling inventory with the ERP at 10,000 and 100,000 SKUs.

`python manage.py bench_reconcile` builds, per size, a throwaway store of that many SKUs
(`devstack.benchenv`), starts an upstream simulator that knows them, brings the store's
stock in line with the ERP, injects 5% drift, then runs one inventory reconciliation in
a process of its own and reads that process's peak RSS (`os.wait4`) and its Python
heap's peak (tracemalloc, started after Django's set-up). Targets: peak RSS at 100k
<= 1.2x at 10k (batches are bounded, so memory must not grow with the catalog), time at
100k <= 12x at 10k. Exits non-zero when either is missed. The preparation runs as
`--prepare SIZE` and `--align` in child processes.
"""

import argparse
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import httpx
from django.core.management.base import BaseCommand, CommandError, CommandParser

from devstack.benchenv import bench_environment
from storefront.settings.environment import BASE_DIR

RSS_RATIO_MAX = 1.2
TIME_RATIO_MAX = 12.0
CONTROL = {"X-Simulator-Control": "1"}
BATCH = 1000


@dataclass(frozen=True)
class Measure:
    skus: int
    seconds: float
    peak_rss_mib: float
    python_heap_peak_mib: float
    counts: dict


def _manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


class _Simulator:
    def __init__(self, *, catalog: Path, seed: int, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "integrations.simulator",
                "--port",
                "0",
                "--seed",
                str(seed),
                "--catalog",
                str(catalog),
            ],
            cwd=BASE_DIR,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=60)
        line = self.process.stdout.readline().strip() if ready else ""
        if not line.startswith("simulator listening on "):
            self.stop()
            raise CommandError(f"the simulator did not start: {line!r}")
        self.url = line.removeprefix("simulator listening on ")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Command(BaseCommand):
    help = "Reconcile inventory at 10,000 and 100,000 SKUs: peak RSS and time, as ratios."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sizes", default="10000,100000", help="comma-separated SKU counts")
        parser.add_argument("--rate", type=float, default=0.05, help="ERP stock drift share")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
        parser.add_argument("--catalog", type=Path, help=argparse.SUPPRESS)
        parser.add_argument("--align", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)

    def handle(self, *args: object, **options: object) -> None:
        if options["prepare"]:
            _prepare(int(str(options["prepare"])), Path(str(options["catalog"])))
            return
        if options["align"]:
            _align()
            return
        if options["measure"]:
            self.stdout.write(json.dumps(_measured_run()))
            return
        sizes = [int(size) for size in str(options["sizes"]).split(",")]
        measures = [
            self._measure(size, float(str(options["rate"])), int(str(options["seed"])))
            for size in sizes
        ]
        self._report(measures)

    def _measure(self, size: int, rate: float, seed: int) -> Measure:
        with bench_environment(var_dir=None, keep=False, write=self.stdout.write) as overrides:
            env = {**os.environ, **overrides}
            catalog = Path(overrides["PEAKSTORE_VAR_DIR"]) / "bench-catalog.json"
            started = time.perf_counter()
            _manage(["migrate", "--verbosity", "0"], env)
            _manage(["bench_reconcile", "--prepare", str(size), "--catalog", str(catalog)], env)
            simulator = _Simulator(catalog=catalog, seed=seed, env=env)
            try:
                env["INTEGRATIONS_UPSTREAM_URL"] = simulator.url
                _manage(["bench_reconcile", "--align"], env)
                self.stdout.write(
                    f"{size:,} SKUs prepared in {time.perf_counter() - started:.0f} s"
                )
                httpx.post(
                    f"{simulator.url}/_drift/erp-stock",
                    json={"rate": rate},
                    headers=CONTROL,
                    timeout=60,
                ).raise_for_status()
                return self._reconcile(size, env)
            finally:
                simulator.stop()

    def _reconcile(self, size: int, env: dict[str, str]) -> Measure:
        """Run `reconcile inventory` alone in a process; return its time and peak RSS."""
        with tempfile.TemporaryFile(mode="w+") as errors:
            started = time.perf_counter()
            child = subprocess.Popen(
                [sys.executable, "manage.py", "bench_reconcile", "--measure"],
                cwd=BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
            assert child.stdout is not None
            out = child.stdout.read()
            # wait4 reaps this child alone and returns its own resource usage.
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - started
            child.returncode = os.waitstatus_to_exitcode(status)
            if child.returncode != 0:
                errors.seek(0)
                raise CommandError(f"reconcile failed at {size:,} SKUs: {errors.read()[-2000:]}")
        counts = json.loads(out)
        heap = counts.pop("python_heap_peak_mib")
        return Measure(size, seconds, usage.ru_maxrss / 1024, heap, counts)  # KiB on Linux

    def _report(self, measures: list[Measure]) -> None:
        for m in measures:
            self.stdout.write(
                f"{m.skus:>8,} SKUs: {m.seconds:7.1f} s, peak RSS {m.peak_rss_mib:6.1f} MiB "
                f"(Python heap {m.python_heap_peak_mib:5.1f} MiB), "
                f"{m.counts['differences']} differences, {m.counts['repaired']} repaired, "
                f"{m.counts['exceptions_opened']} exceptions"
            )
        if len(measures) < 2:
            return
        small, large = measures[0], measures[-1]
        rss, seconds = large.peak_rss_mib / small.peak_rss_mib, large.seconds / small.seconds
        heap = large.python_heap_peak_mib / small.python_heap_peak_mib
        self.stdout.write(
            f"peak RSS {large.skus:,} / {small.skus:,}: {rss:.2f} (target <= {RSS_RATIO_MAX}); "
            f"time: {seconds:.2f} (target <= {TIME_RATIO_MAX}); Python heap peak: {heap:.2f}"
        )
        if rss > RSS_RATIO_MAX or seconds > TIME_RATIO_MAX:
            raise CommandError("a reconciliation scaling target was missed")


def _measured_run() -> dict[str, object]:
    """Reconcile inventory once; its counts and the Python heap's peak during the run.

    The heap (tracemalloc) tells the run's own objects from what the database library
    holds outside Python (SQLite's page cache, up to `cache_size` per connection).
    """
    from dataclasses import asdict

    from reconciliation.interface import reconcile

    tracemalloc.start()
    summary = reconcile(routine="inventory")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if summary.status != "finished":
        raise CommandError(f"reconcile inventory {summary.status}: {summary.note}")
    return {**asdict(summary), "python_heap_peak_mib": peak / 2**20}


def _prepare(size: int, catalog: Path) -> None:
    """Create `size` SKUs (one per product) through catalog's import, and the snapshot
    the simulator answers from. Changes are muted: nothing derived is needed here."""
    from catalog.interface import (
        BrandInput,
        CategoryInput,
        ProductInput,
        VariantInput,
        brands_import,
        category_create,
        products_import,
    )
    from pricing.interface import price_list_create
    from toolkit import changes

    with changes.muted():
        category_create(data=CategoryInput(name="Bench", slug="bench"))
        brands_import(brands=[BrandInput(name="Bench", slug="bench")])
        price_list_create(code="base", name="Base prices")
        for start in range(0, size, BATCH):
            products_import(
                products=[
                    ProductInput(
                        name=f"Bench product {n}",
                        slug=f"bench-{n}",
                        category_slug="bench",
                        brand_slug="bench",
                        description="",
                        image_urls=(),
                        popularity=1,
                        variants=(VariantInput(sku=f"B{n:07d}", name="One", attributes={}),),
                    )
                    for n in range(start, min(size, start + BATCH))
                ]
            )
    products = [{"slug": f"bench-{n}", "skus": [f"B{n:07d}"]} for n in range(size)]
    catalog.write_text(json.dumps({"products": products}))


def _align() -> None:
    """Book the ERP's stock and the PIM's prices for every SKU, as the sync jobs would."""
    from catalog.interface import variant_sku_batches
    from integrations.interface import erp_stock_levels, pim_prices
    from inventory.interface import StockReceipt, stock_receive
    from pricing.interface import PriceInput, prices_import
    from toolkit import changes

    with changes.muted():
        for skus_by_id in variant_sku_batches(batch_size=100):
            batch = tuple(skus_by_id.items())
            skus = [sku for _, sku in batch]
            on_hand, prices = erp_stock_levels(skus=skus), pim_prices(skus=skus)
            receipts = [
                StockReceipt(variant_id=v, quantity=on_hand[s]) for v, s in batch if on_hand[s]
            ]
            if receipts:
                stock_receive(receipts=receipts, reference="bench-sync")
            prices_import(
                price_list_code="base",
                prices=[PriceInput(variant_id=v, amount=prices[s]) for v, s in batch],
            )
