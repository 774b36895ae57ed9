"""Benchmark what the request metrics cost on a warm cached page.

`python manage.py bench_metrics_overhead` boots two web servers side by side (gunicorn,
2 sync workers each, same database and cache): one with the metrics middleware, one with
PEAKSTORE_METRICS_ENABLED=0. After warming the page (so both answer it from the cache),
it measures requests per second against each in rounds: a round drives both servers
back to back, in alternating order. The overhead is the median over rounds of each
round's on/off ratio, so drift in a shared machine's load (seen at +-15% between rounds)
cancels within a round instead of landing on one side. Clients are separate processes
sending raw HTTP/1.0 requests, so the client's own cost stays low.
Writes reports/bench/metrics-overhead.json; exits non-zero over the 5% target.
"""

import json
import multiprocessing
import socket
import statistics
import time
from contextlib import ExitStack

from django.core.management.base import BaseCommand, CommandError, CommandParser

from storefront.settings.environment import BASE_DIR, ENV
from storefront.stack import Stack, StackConfig, StackError, free_port, store_prepare
from storefront.stack.processes import web_process

TARGET_OVERHEAD = 0.05


def _client(
    host: str, port: int, path: str, seconds: float, results: "multiprocessing.Queue"
) -> None:
    """Send GETs one after another for `seconds`; put (answered 200, other) on the queue."""
    request = f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode()
    ok = failed = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        with socket.create_connection((host, port), timeout=10) as connection:
            connection.sendall(request)
            head = connection.recv(16)
            while connection.recv(65536):
                pass
        if head.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")):
            ok += 1
        else:
            failed += 1
    results.put((ok, failed))


def _rate(host: str, port: int, path: str, *, seconds: float, clients: int) -> tuple[float, int]:
    """Return (requests per second answered 200, non-200 answers) over one round."""
    results: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_client, args=(host, port, path, seconds, results))
        for _ in range(clients)
    ]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=seconds + 30) for _ in workers]
    for worker in workers:
        worker.join()
    return sum(ok for ok, _ in answers) / seconds, sum(failed for _, failed in answers)


class Command(BaseCommand):
    help = "Requests/s on a warm cached page with and without the metrics middleware."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--path", default="/", help="a page the page cache serves warm")
        parser.add_argument("--rounds", type=int, default=10, help="rounds (on and off each)")
        parser.add_argument("--seconds", type=float, default=4.0, help="per round and server")
        parser.add_argument("--clients", type=int, default=2, help="client processes")
        parser.add_argument("--products", type=int, default=2000, help="seed size if empty")

    def handle(
        self,
        *args: object,
        path: str,
        rounds: int,
        seconds: float,
        clients: int,
        products: int,
        **_: object,
    ) -> None:
        store_prepare(products=products, stdout=self.stdout)
        report_dir = BASE_DIR / "reports" / "bench"
        rates: dict[str, list[float]] = {"metrics_on": [], "metrics_off": []}
        errors = 0
        try:
            with ExitStack() as stacks:
                ports = {}
                for name, enabled in (("metrics_on", "1"), ("metrics_off", "0")):
                    config = StackConfig(
                        port=free_port(),
                        env={
                            "PEAKSTORE_METRICS_ENABLED": enabled,
                            "PROMETHEUS_MULTIPROC_DIR": str(ENV.var_dir / "bench" / name),
                        },
                        log_dir=report_dir / f"metrics-overhead-{name}",
                    )
                    stacks.enter_context(Stack(config, processes=(web_process(config),)))
                    ports[name] = config.port
                for port in ports.values():  # warm the page cache and both workers
                    _rate(config.host, port, path, seconds=1.0, clients=clients)
                for round_number in range(rounds):
                    order = list(ports) if round_number % 2 == 0 else list(reversed(ports))
                    for name in order:
                        rate, failed = _rate(
                            config.host, ports[name], path, seconds=seconds, clients=clients
                        )
                        rates[name].append(rate)
                        errors += failed
        except StackError as error:
            raise CommandError(str(error)) from None
        on, off = (statistics.median(rates[name]) for name in ("metrics_on", "metrics_off"))
        pairs = zip(rates["metrics_on"], rates["metrics_off"], strict=True)
        ratios = sorted(on_rate / off_rate for on_rate, off_rate in pairs)
        overhead = 1 - statistics.median(ratios)
        summary = {
            "path": path,
            "rounds": rounds,
            "seconds_per_round": seconds,
            "clients": clients,
            "requests_per_second": {name: [round(r, 1) for r in v] for name, v in rates.items()},
            "median_metrics_on": round(on, 1),
            "median_metrics_off": round(off, 1),
            "overhead": round(overhead, 4),
            "overhead_by_round": [round(1 - ratio, 4) for ratio in ratios],
            "non_200": errors,
            "target": TARGET_OVERHEAD,
        }
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "metrics-overhead.json").write_text(json.dumps(summary, indent=2))
        self.stdout.write(
            f"{path}: metrics on {on:.0f} req/s, off {off:.0f} req/s (medians of {rounds} "
            f"rounds of {seconds:.0f} s); overhead {overhead:.1%} (median of the rounds' "
            f"on/off ratios; rounds ranged {1 - ratios[-1]:.1%} to {1 - ratios[0]:.1%}), "
            f"target < {TARGET_OVERHEAD:.0%}; non-200 answers: {errors}"
        )
        if errors or overhead >= TARGET_OVERHEAD:
            raise CommandError("metrics overhead over target (or errors); see the report")
