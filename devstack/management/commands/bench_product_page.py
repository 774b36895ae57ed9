"""Benchmark the product page while its optional dependencies hang.

`python manage.py bench_product_page` boots gunicorn (2 sync workers) and the upstream
simulator on free loopback ports, and measures, in one run:

1. healthy: every dependency answers (breakers closed);
2. hanging, breakers open: `optional-down` (recommendations and reviews hang), after
   warm-up requests have opened both breakers;
   (1 and 2 alternate in short rounds, pooled per phase, so load drift hits both alike)
3. hanging, resilience off: a second web server with INTEGRATIONS_RESILIENCE=0, same
   preset: the page waits for each client's timeout.

Each phase is a bounded number of requests from a few concurrent clients, spread over
the most popular products. Prints p50/p95 per phase and the ratio the design targets
(hanging p95 / healthy p95 <= 1.2), writes reports/bench/product-page.json, and exits
non-zero if the target is missed.
"""

import json
import threading
import time
from pathlib import Path

import httpx
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.interface import product_cards_popular
from devstack.prepare import store_prepare
from devstack.processes import (
    Stack,
    StackConfig,
    StackError,
    free_port,
    simulator_process,
    web_process,
)
from integrations.interface import breakers_close, faults_preset_apply
from perfstats.quantiles import percentiles
from storefront.settings.environment import BASE_DIR

TARGET_RATIO = 1.2


def _pooled(rounds: list[dict]) -> dict:
    latencies = [latency for one in rounds for latency in one.pop("latencies")]
    return _summary(latencies, errors=sum(one["errors"] for one in rounds))


def _summary(latencies: list[float], *, errors: int) -> dict:
    p50, p95 = percentiles(latencies, 0.50, 0.95)
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(p50 * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def _measure(base_url: str, paths: list[str], *, requests: int, clients: int) -> dict:
    """Send `requests` GETs from `clients` threads in a closed loop; return latencies."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(requests))
    # A query string the page ignores makes every URL new to the page cache, so each
    # request renders the page and waits on its widgets: what this benchmark measures.
    nonce = time.monotonic_ns()

    def client() -> None:
        nonlocal errors
        with httpx.Client(base_url=base_url, timeout=10, trust_env=False) as http:
            for index in counter:
                started = time.perf_counter()
                path = f"{paths[index % len(paths)]}?render={nonce}-{index}"
                status = http.get(path).status_code
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    errors += status != 200

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "errors": errors}


class Command(BaseCommand):
    help = "Product page p95: healthy vs optional dependencies hanging (breakers open / off)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rounds", type=int, default=4, help="healthy/hanging pairs")
        parser.add_argument("--requests", type=int, default=100, help="per round and phase")
        parser.add_argument("--naive-requests", type=int, default=60, help="resilience off")
        parser.add_argument("--clients", type=int, default=2, help="concurrent clients")
        parser.add_argument("--products", type=int, default=2000, help="seed size if empty")

    def handle(
        self,
        *args: object,
        rounds: int,
        requests: int,
        naive_requests: int,
        clients: int,
        products: int,
        **_: object,
    ) -> None:
        store_prepare(products=products, stdout=self.stdout)
        paths = [f"/p/{card.slug}/" for card in product_cards_popular(limit=50)]
        if not paths:
            raise CommandError("the store has no products")
        report_dir = BASE_DIR / "reports" / "bench"
        results: dict[str, dict] = {}
        try:
            with self._stack(report_dir, "resilient", resilience=True) as stack:
                url, upstream = stack.config.base_url, stack.config.upstream_url
                _measure(url, paths, requests=40, clients=clients)  # warm up
                healthy: list[dict] = []
                hanging: list[dict] = []
                # Alternate short rounds, so drift in the machine's load hits both alike.
                for _round in range(rounds):
                    faults_preset_apply("healthy", url=upstream)
                    # Recovered services: their breakers close, as they would on recovery.
                    breakers_close(dependencies=("recommendations", "reviews"))
                    healthy.append(_measure(url, paths, requests=requests, clients=clients))
                    faults_preset_apply("optional-down", url=upstream)
                    # Enough hanging calls to open both breakers (5 failures in a row).
                    _measure(url, paths, requests=12, clients=clients)
                    hanging.append(_measure(url, paths, requests=requests, clients=clients))
                results["healthy"] = _pooled(healthy)
                results["hanging_breakers_open"] = _pooled(hanging)
            with self._stack(report_dir, "naive", resilience=False) as stack:
                url, upstream = stack.config.base_url, stack.config.upstream_url
                faults_preset_apply("optional-down", url=upstream)
                naive = _measure(url, paths, requests=naive_requests, clients=clients)
                results["hanging_resilience_off"] = _pooled([naive])
        except StackError as error:
            raise CommandError(str(error)) from None
        ratio = results["hanging_breakers_open"]["p95_ms"] / results["healthy"]["p95_ms"]
        summary = {"phases": results, "ratio_p95": round(ratio, 2), "target": TARGET_RATIO}
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "product-page.json").write_text(json.dumps(summary, indent=2))
        self.stdout.write(f"{'phase':<26}{'requests':>9}{'errors':>7}{'p50 ms':>9}{'p95 ms':>9}")
        for name, phase in results.items():
            self.stdout.write(
                f"{name:<26}{phase['requests']:>9}{phase['errors']:>7}"
                f"{phase['p50_ms']:>9}{phase['p95_ms']:>9}"
            )
        self.stdout.write(f"hanging (breakers open) p95 / healthy p95 = {ratio:.2f}")
        if ratio > TARGET_RATIO or any(phase["errors"] for phase in results.values()):
            raise CommandError(f"missed the target: ratio <= {TARGET_RATIO} and no errors")

    def _stack(self, report_dir: Path, name: str, *, resilience: bool) -> Stack:
        config = StackConfig(
            port=free_port(),
            simulator_port=free_port(),
            env={
                "INTEGRATIONS_RESILIENCE": "1" if resilience else "0",
                "PEAKSTORE_LOG_LEVEL": "ERROR",  # the hanging phases would log every retry
                "PROMETHEUS_MULTIPROC_DIR": str(report_dir / f"metrics-{name}"),
            },
            log_dir=report_dir / name,
        )
        return Stack(config, processes=[simulator_process(config), web_process(config)])
