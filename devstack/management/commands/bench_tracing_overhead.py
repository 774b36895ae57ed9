"""Benchmark what tracing costs, with the default sampling, on a warm and a cold page.

`python manage.py bench_tracing_overhead` boots two web servers side by side (gunicorn,
2 sync workers each, same database and cache) and the upstream simulator: one with
tracing as `make run` has it (PEAKSTORE_TRACING on, the default share, kept traces in
the ring file), one with PEAKSTORE_TRACING=0. Client processes alternate their requests
between the two, as `bench_metrics_overhead` does (its notes say why), in two parts:

1. warm: the home page, answered from the page cache (the hottest path);
2. cold product page: every request asks for a product page nobody asked for in the
   last page-cache TTL (each round walks its own slice of the catalog, each client its
   own stride of it, both servers in turn), so the view renders it; the data caches below the
   page (product, prices, stock) may be warm, as they are in a store that runs.

The overhead is 1 - rate(traced) / rate(untraced) per round, the median over rounds;
beside it, each server's CPU per answered request (the clients alternate, so both
answer as many), which the waits on the shared simulator and cores do not blur.
Writes reports/bench/tracing-overhead.json; exits non-zero past 5% on either page.
"""

import json
import multiprocessing
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.interface import product_cards_popular
from devstack.benchenv import gunicorn_cpu_seconds
from devstack.management.commands.bench_metrics_overhead import _get
from devstack.prepare import store_prepare
from devstack.processes import (
    Stack,
    StackConfig,
    StackError,
    free_port,
    simulator_process,
    web_process,
)
from storefront.settings.environment import BASE_DIR, ENV

TARGET_OVERHEAD = 0.05
_NAMES = ("traced", "untraced")


def _client(
    host: str, ports: list[int], paths: list[str], seconds: float, results: "multiprocessing.Queue"
) -> None:
    """Alternate GETs between `ports` for `seconds`, walking `paths` (one path per request).

    Put {port: [answered 200, other, seconds spent waiting on it]} on the queue.
    """
    requests = [f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode() for path in paths]
    tallies = {port: [0, 0, 0.0] for port in ports}
    deadline = time.perf_counter() + seconds
    turn = 0
    while time.perf_counter() < deadline:
        port = ports[turn % len(ports)]
        started = time.perf_counter()
        answered = _get(host, port, requests[turn % len(requests)])
        tallies[port][2] += time.perf_counter() - started
        tallies[port][0 if answered else 1] += 1
        turn += 1
    results.put(tallies)


def _round(
    host: str, ports: list[int], paths_per_client: list[list[str]], seconds: float
) -> tuple[list[float], list[int], int]:
    """One interleaved round: each port's answered requests per second of client time,
    each port's answered requests, and the answers that were not 200."""
    results: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(
            target=_client,
            args=(host, ports[::-1] if index % 2 else ports, paths, seconds, results),
        )
        for index, paths in enumerate(paths_per_client)
    ]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=seconds + 30) for _ in workers]
    for worker in workers:
        worker.join()
    answered = [sum(answer[port][0] for answer in answers) for port in ports]
    rates = [
        count / sum(answer[port][2] for answer in answers)
        for count, port in zip(answered, ports, strict=True)
    ]
    return rates, answered, sum(answer[port][1] for answer in answers for port in ports)


@dataclass(frozen=True)
class _Part:
    """One page's rounds: each server's rates and the overhead they make."""

    rates: dict[str, list[float]]
    non_200: int
    # Server CPU (gunicorn master and workers, user + system) per answered request.
    cpu_per_answer: dict[str, float]

    @property
    def ratios(self) -> list[float]:
        pairs = zip(self.rates["traced"], self.rates["untraced"], strict=True)
        return sorted(traced / untraced for traced, untraced in pairs)

    @property
    def overhead(self) -> float:
        return 1 - statistics.median(self.ratios)

    def summary(self) -> dict[str, object]:
        return {
            "requests_per_second": {n: [round(r, 1) for r in v] for n, v in self.rates.items()},
            "median_traced": round(statistics.median(self.rates["traced"]), 1),
            "median_untraced": round(statistics.median(self.rates["untraced"]), 1),
            "overhead": round(self.overhead, 4),
            "overhead_by_round": [round(1 - ratio, 4) for ratio in self.ratios],
            "non_200": self.non_200,
            "server_cpu_us_per_answer": {
                name: round(cpu * 1e6) for name, cpu in self.cpu_per_answer.items()
            },
            "cpu_overhead": round(self.cpu_overhead, 4),
        }

    @property
    def cpu_overhead(self) -> float:
        return self.cpu_per_answer["traced"] / self.cpu_per_answer["untraced"] - 1

    def line(self, label: str) -> str:
        return (
            f"{label}: traced {statistics.median(self.rates['traced']):.0f} req/s, untraced "
            f"{statistics.median(self.rates['untraced']):.0f} req/s per client connection; "
            f"overhead {self.overhead:.1%} (rounds {1 - self.ratios[-1]:.1%} to "
            f"{1 - self.ratios[0]:.1%}); server CPU per answer "
            f"{self.cpu_per_answer['traced'] * 1e6:.0f} / "
            f"{self.cpu_per_answer['untraced'] * 1e6:.0f} us (+{self.cpu_overhead:.1%}); "
            f"non-200: {self.non_200}"
        )


def _measure(
    host: str,
    servers: dict[int, int],
    paths_for_round: Callable[[int], list[list[str]]],
    *,
    rounds: int,
    seconds: float,
) -> _Part:
    """Run the rounds; `servers` maps each port to its gunicorn master's pid."""
    ports = list(servers)
    rates: dict[str, list[float]] = {name: [] for name in _NAMES}
    answered = dict.fromkeys(_NAMES, 0)
    failed = 0
    cpu_before = [gunicorn_cpu_seconds(master) for master in servers.values()]
    for number in range(rounds):
        round_rates, round_answered, round_failed = _round(
            host, ports, paths_for_round(number), seconds
        )
        for name, rate, count in zip(_NAMES, round_rates, round_answered, strict=True):
            rates[name].append(rate)
            answered[name] += count
        failed += round_failed
    cpu_per_answer = {
        name: (gunicorn_cpu_seconds(master) - before) / max(answered[name], 1)
        for name, master, before in zip(_NAMES, servers.values(), cpu_before, strict=True)
    }
    return _Part(rates=rates, non_200=failed, cpu_per_answer=cpu_per_answer)


class Command(BaseCommand):
    help = "Requests/s on a warm page and a cold product page with and without tracing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--warm-path", default="/", help="a page the page cache serves warm")
        parser.add_argument("--rounds", type=int, default=8, help="rounds per page")
        parser.add_argument("--seconds", type=float, default=4.0, help="per round")
        parser.add_argument("--clients", type=int, default=2, help="client processes")
        parser.add_argument("--products", type=int, default=10_000, help="seed size if empty")

    def handle(
        self,
        *args: object,
        warm_path: str,
        rounds: int,
        seconds: float,
        clients: int,
        products: int,
        **_: object,
    ) -> None:
        store_prepare(products=products, stdout=self.stdout)
        slugs = [card.slug for card in product_cards_popular(limit=products)]
        report_dir = BASE_DIR / "reports" / "bench"

        def cold_paths(number: int) -> list[list[str]]:
            # Each round walks a slice of the catalog no other round asks for, so no
            # product page is asked for twice in the run, however long pages live.
            part = slugs[number % rounds :: rounds]
            return [[f"/p/{slug}/" for slug in part[index::clients]] for index in range(clients)]

        try:
            with ExitStack() as stacks:
                host, servers = _servers_start(stacks, report_dir)
                _round(host, list(servers), [[warm_path]] * clients, 1.0)  # warm page, workers
                warm = _measure(
                    host, servers, lambda _: [[warm_path]] * clients, rounds=rounds, seconds=seconds
                )
                cold = _measure(host, servers, cold_paths, rounds=rounds, seconds=seconds)
        except StackError as error:
            raise CommandError(str(error)) from None
        summary = {
            "warm_path": warm_path,
            "rounds": rounds,
            "seconds_per_round": seconds,
            "clients": clients,
            "sample_share": ENV.tracing_sample_share,
            "warm": warm.summary(),
            "cold_product_page": cold.summary(),
            "target": TARGET_OVERHEAD,
        }
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "tracing-overhead.json").write_text(json.dumps(summary, indent=2))
        self.stdout.write(warm.line(f"warm {warm_path}"))
        self.stdout.write(cold.line("cold /p/<slug>/"))
        if any(part.non_200 or part.overhead >= TARGET_OVERHEAD for part in (warm, cold)):
            raise CommandError("tracing overhead over target (or errors); see the report")


def _servers_start(stacks: ExitStack, report_dir: Path) -> tuple[str, dict[int, int]]:
    """Start the simulator, then a traced and an untraced web server.

    Return the host, and each server's port with its gunicorn master's pid, traced first.
    """
    simulator = StackConfig(
        port=free_port(),
        simulator_port=free_port(),
        log_dir=report_dir / "tracing-overhead-simulator",
    )
    stacks.enter_context(Stack(simulator, processes=(simulator_process(simulator),)))
    servers = {}
    for name in _NAMES:
        config = StackConfig(
            port=free_port(),
            env={
                "PEAKSTORE_TRACING": "1" if name == "traced" else "0",
                "INTEGRATIONS_UPSTREAM_URL": simulator.upstream_url,
                "PROMETHEUS_MULTIPROC_DIR": str(ENV.var_dir / "bench" / f"tracing-{name}"),
            },
            log_dir=report_dir / f"tracing-overhead-{name}",
        )
        stack = stacks.enter_context(Stack(config, processes=(web_process(config),)))
        servers[config.port] = stack.pids["web"]
    return config.host, servers
