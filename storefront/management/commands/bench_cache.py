"""Benchmark the page cache: a warm category page against a bare Django view.

`python manage.py bench_cache` boots one web server (gunicorn, 2 sync workers, the
profile the environment selects, admission control off so nothing is shed) with
`PEAKSTORE_BENCH_ROUTES=1`, which routes `/bench/bare/`: a view returning a constant
through the same middleware. It warms the largest top-level category page, then
measures requests per second of both URLs in alternating rounds (same server, same
settings), each round a fixed number of requests. The figure is the median over rounds
of page / bare measured back to back, which holds up when the machine's load drifts
between rounds; the target is at least 0.6. The client is ApacheBench (`ab`) when
installed, else raw HTTP/1.0 from client processes. Writes reports/bench/cache.json;
exits non-zero under the target or on any non-200 answer.
"""

import json
import multiprocessing
import re
import shutil
import socket
import statistics
import subprocess
import time
import urllib.request

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.interface import category_tree
from storefront.settings.environment import BASE_DIR
from storefront.stack import Stack, StackConfig, StackError, free_port, store_prepare
from storefront.stack.processes import web_process

TARGET_RATIO = 0.6
BARE_PATH = "/bench/bare/"


def _socket_client(host: str, port: int, path: str, requests: int, out: multiprocessing.Queue):
    """Send `requests` GETs one after another; put (answered 200, other) on the queue."""
    request = f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode()
    ok = failed = 0
    for _ in range(requests):
        with socket.create_connection((host, port), timeout=10) as connection:
            connection.sendall(request)
            head = connection.recv(16)
            while connection.recv(65536):
                pass
        if head.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")):
            ok += 1
        else:
            failed += 1
    out.put((ok, failed))


def _rate_sockets(url: str, *, requests: int, concurrency: int) -> tuple[float, int]:
    host, _, rest = url.removeprefix("http://").partition(":")
    port, _, path = rest.partition("/")
    out: multiprocessing.Queue = multiprocessing.Queue()
    share = max(1, requests // concurrency)
    workers = [
        multiprocessing.Process(
            target=_socket_client, args=(host, int(port), "/" + path, share, out)
        )
        for _ in range(concurrency)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    answers = [out.get(timeout=300) for _ in workers]
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    return sum(ok for ok, _ in answers) / elapsed, sum(failed for _, failed in answers)


def _rate_ab(url: str, *, requests: int, concurrency: int) -> tuple[float, int]:
    result = subprocess.run(
        ["ab", "-q", "-n", str(requests), "-c", str(concurrency), url],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rate = float(re.search(r"Requests per second:\s+([\d.]+)", result.stdout).group(1))
    failed = int(re.search(r"Failed requests:\s+(\d+)", result.stdout).group(1))
    non_2xx = re.search(r"Non-2xx responses:\s+(\d+)", result.stdout)
    return rate, failed + (int(non_2xx.group(1)) if non_2xx else 0)


class Command(BaseCommand):
    help = "Requests/s of a warm anonymous category page ÷ a bare Django view's (target 0.6)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--path", help="page to measure (default: largest category)")
        parser.add_argument("--rounds", type=int, default=12, help="alternating pairs")
        parser.add_argument("--requests", type=int, default=1500, help="per round and URL")
        parser.add_argument("--concurrency", type=int, default=4)
        parser.add_argument("--products", type=int, default=2000, help="seed size if empty")
        parser.add_argument("--client", choices=("auto", "ab", "sockets"), default="auto")

    def handle(
        self,
        *args: object,
        path: str | None,
        rounds: int,
        requests: int,
        concurrency: int,
        products: int,
        client: str,
        **_: object,
    ) -> None:
        store_prepare(products=products, stdout=self.stdout)
        path = path or f"/c/{next(c for c in category_tree() if c.parent_id is None).slug}/"
        if client == "auto":
            client = "ab" if shutil.which("ab") else "sockets"
        measure = _rate_ab if client == "ab" else _rate_sockets
        report_dir = BASE_DIR / "reports" / "bench"
        config = StackConfig(
            port=free_port(),
            # Admission control would shed part of a saturating benchmark's requests (503):
            # this measures how fast the server answers, so it is off for both URLs.
            env={"PEAKSTORE_BENCH_ROUTES": "1", "PEAKSTORE_ADMISSION": "0"},
            log_dir=report_dir / "cache",
        )
        urls = {"bare": config.base_url + BARE_PATH, "page": config.base_url + path}
        rates: dict[str, list[float]] = {"bare": [], "page": []}
        errors = 0
        try:
            with Stack(config, processes=(web_process(config),)):
                for url in urls.values():  # warm both workers and the page cache
                    for _ in range(20):
                        with urllib.request.urlopen(url, timeout=10) as response:
                            response.read()
                    measure(url, requests=min(requests, 500), concurrency=concurrency)
                for round_number in range(rounds):
                    order = ["bare", "page"] if round_number % 2 == 0 else ["page", "bare"]
                    for name in order:
                        rate, failed = measure(
                            urls[name], requests=requests, concurrency=concurrency
                        )
                        rates[name].append(rate)
                        errors += failed
        except (StackError, subprocess.SubprocessError) as error:
            raise CommandError(str(error)) from None
        bare, page = statistics.median(rates["bare"]), statistics.median(rates["page"])
        ratio = statistics.median(p / b for p, b in zip(rates["page"], rates["bare"], strict=True))
        summary = {
            "path": path,
            "client": client,
            "rounds": rounds,
            "requests_per_round": requests,
            "concurrency": concurrency,
            "gunicorn": "2 sync workers",
            "requests_per_second": {name: [round(r, 1) for r in v] for name, v in rates.items()},
            "median_bare": round(bare, 1),
            "median_page": round(page, 1),
            "ratio": round(ratio, 3),
            "non_200": errors,
            "target": TARGET_RATIO,
        }
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "cache.json").write_text(json.dumps(summary, indent=2))
        self.stdout.write(
            f"warm {path}: {page:.0f} req/s; bare view: {bare:.0f} req/s (medians of {rounds} "
            f"alternating rounds of {requests} requests, {concurrency} concurrent, {client}); "
            f"ratio (median of the rounds' page/bare) {ratio:.2f}, target >= {TARGET_RATIO}; "
            f"non-200 answers: {errors}"
        )
        if errors or ratio < TARGET_RATIO:
            raise CommandError("warm page under target (or errors); see reports/bench/cache.json")
