"""Benchmark what the request metrics cost on a warm cached page.

`python manage.py bench_metrics_overhead` boots two web servers side by side (gunicorn,
2 sync workers each, same database and cache): one with the metrics middleware, one with
PEAKSTORE_METRICS_ENABLED=0. After warming the page (so both answer it from the cache),
client processes keep both servers busy at once: each client alternates its requests
between them, one to each in turn, and adds up the time its requests to each server
took. Both servers therefore run under the same load at the same moments, and a shared
machine's drift (rounds run one server after the other were seen +-20% apart) lands on
both alike. A server's rate is its answered requests per second of client time spent on
it; the overhead is 1 - rate(on) / rate(off), per round, and the median over rounds.
Clients send raw HTTP/1.0 requests, so their own cost stays low.
Writes reports/bench/metrics-overhead.json; exits non-zero over the 5% target.
"""

import json
import multiprocessing
import os
import socket
import statistics
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devstack.prepare import store_prepare
from devstack.processes import Stack, StackConfig, StackError, free_port, web_process
from storefront.settings.environment import BASE_DIR, ENV

TARGET_OVERHEAD = 0.05


def _get(host: str, port: int, request: bytes) -> bool:
    """Send one request on a new connection; True when it was answered 200."""
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(request)
        head = connection.recv(16)
        while connection.recv(65536):
            pass
    return head.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))


def _client(
    host: str, ports: list[int], path: str, seconds: float, results: "multiprocessing.Queue"
) -> None:
    """Alternate GETs between `ports` for `seconds`; put {port: [answered 200, other,
    seconds spent waiting on it]} on the queue."""
    request = f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode()
    tallies = {port: [0, 0, 0.0] for port in ports}
    deadline = time.perf_counter() + seconds
    turn = 0
    while time.perf_counter() < deadline:
        port = ports[turn % len(ports)]
        started = time.perf_counter()
        answered = _get(host, port, request)
        tallies[port][2] += time.perf_counter() - started
        tallies[port][0 if answered else 1] += 1
        turn += 1
    results.put(tallies)


def _interleaved_rates(
    host: str, ports: list[int], path: str, *, seconds: float, clients: int
) -> tuple[list[float], list[int], int]:
    """Drive both ports at once for one round, half the clients starting with each.

    Return (each port's answered requests per second of client time spent on it, as
    seen by one client connection; each port's answered requests; non-200 answers).
    """
    results: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(
            target=_client, args=(host, ports[::-1] if index % 2 else ports, path, seconds, results)
        )
        for index in range(clients)
    ]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=seconds + 30) for _ in workers]
    for worker in workers:
        worker.join()
    answered = {port: sum(answer[port][0] for answer in answers) for port in ports}
    waited = {port: sum(answer[port][2] for answer in answers) for port in ports}
    failed = sum(answer[port][1] for answer in answers for port in ports)
    rates = [answered[port] / waited[port] for port in ports]
    return rates, [answered[port] for port in ports], failed


def _cpu_seconds(master_pid: int) -> tuple[float, float]:
    """CPU time (user, system) the gunicorn master's live workers have used so far."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    user = system = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]), system + int(fields[12])
    return user / os.sysconf("SC_CLK_TCK"), system / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class _Measured:
    """What the rounds measured on each server ("metrics_on", "metrics_off")."""

    rates: dict[str, list[float]]  # answered requests/s per client connection, per round
    answered: dict[str, int]
    non_200: int
    cpu_split: dict[str, list[float]]  # worker CPU (user, system) s per answered request

    @property
    def ratios(self) -> list[float]:
        """Each round's on/off rate ratio, smallest first."""
        pairs = zip(self.rates["metrics_on"], self.rates["metrics_off"], strict=True)
        return sorted(on_rate / off_rate for on_rate, off_rate in pairs)

    @property
    def overhead(self) -> float:
        return 1 - statistics.median(self.ratios)

    def median_rate(self, name: str) -> float:
        return statistics.median(self.rates[name])

    def cpu_per_request(self, name: str) -> float:
        return sum(self.cpu_split[name])


def _servers_start(
    stacks: ExitStack, report_dir: Path
) -> tuple[str, dict[str, int], dict[str, int]]:
    """Start one web server with the metrics and one without; stop them with `stacks`.

    Return the host, and each server's port and gunicorn master pid by name.
    """
    ports, masters = {}, {}
    for name, enabled in (("metrics_on", "1"), ("metrics_off", "0")):
        config = StackConfig(
            port=free_port(),
            env={
                "PEAKSTORE_METRICS_ENABLED": enabled,
                "PROMETHEUS_MULTIPROC_DIR": str(ENV.var_dir / "bench" / name),
            },
            log_dir=report_dir / f"metrics-overhead-{name}",
        )
        stack = stacks.enter_context(Stack(config, processes=(web_process(config),)))
        ports[name] = config.port
        masters[name] = stack.pids["web"]
    return config.host, ports, masters


def _rounds_run(
    host: str,
    ports: dict[str, int],
    masters: dict[str, int],
    *,
    path: str,
    rounds: int,
    seconds: float,
    clients: int,
) -> _Measured:
    """Warm the page and every worker, then run the interleaved rounds.

    Worker CPU is read around the rounds only, so warming does not count.
    """
    names = list(ports)
    _interleaved_rates(host, list(ports.values()), path, seconds=1.0, clients=clients)
    cpu_before = {name: _cpu_seconds(masters[name]) for name in names}
    rates: dict[str, list[float]] = {name: [] for name in names}
    answered = dict.fromkeys(names, 0)
    errors = 0
    for _round in range(rounds):
        round_rates, round_answered, failed = _interleaved_rates(
            host, list(ports.values()), path, seconds=seconds, clients=clients
        )
        for name, rate, count in zip(names, round_rates, round_answered, strict=True):
            rates[name].append(rate)
            answered[name] += count
        errors += failed
    cpu_split = {
        name: [
            (after - before) / answered[name]
            for after, before in zip(_cpu_seconds(masters[name]), cpu_before[name], strict=True)
        ]
        for name in names
    }
    return _Measured(rates=rates, answered=answered, non_200=errors, cpu_split=cpu_split)


def _summary(
    measured: _Measured, *, path: str, rounds: int, seconds: float, clients: int
) -> dict[str, object]:
    """The report's figures, rounded for reading."""
    return {
        "path": path,
        "rounds": rounds,
        "seconds_per_round": seconds,
        "clients": clients,
        "requests_per_second": {
            name: [round(r, 1) for r in v] for name, v in measured.rates.items()
        },
        "median_metrics_on": round(measured.median_rate("metrics_on"), 1),
        "median_metrics_off": round(measured.median_rate("metrics_off"), 1),
        "overhead": round(measured.overhead, 4),
        "overhead_by_round": [round(1 - ratio, 4) for ratio in measured.ratios],
        "worker_cpu_ms_per_request": {
            name: {"user": round(user * 1000, 4), "system": round(system * 1000, 4)}
            for name, (user, system) in measured.cpu_split.items()
        },
        "non_200": measured.non_200,
        "target": TARGET_OVERHEAD,
    }


def _summary_line(measured: _Measured, *, path: str, rounds: int, seconds: float) -> str:
    ratios = measured.ratios
    return (
        f"{path}: metrics on {measured.median_rate('metrics_on'):.0f} req/s, "
        f"off {measured.median_rate('metrics_off'):.0f} req/s per client connection "
        f"(medians of {rounds} interleaved rounds of {seconds:.0f} s); overhead "
        f"{measured.overhead:.1%} (median of the rounds' on/off ratios; rounds ranged "
        f"{1 - ratios[-1]:.1%} to {1 - ratios[0]:.1%}); worker CPU per request "
        f"{measured.cpu_per_request('metrics_on') * 1e6:.0f} us on, "
        f"{measured.cpu_per_request('metrics_off') * 1e6:.0f} us off; "
        f"target < {TARGET_OVERHEAD:.0%}; non-200 answers: {measured.non_200}"
    )


class Command(BaseCommand):
    help = "Requests/s on a warm cached page with and without the metrics middleware."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--path", default="/", help="a page the page cache serves warm")
        parser.add_argument("--rounds", type=int, default=10, help="rounds, both servers at once")
        parser.add_argument("--seconds", type=float, default=4.0, help="per round")
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
        try:
            with ExitStack() as stacks:
                host, ports, masters = _servers_start(stacks, report_dir)
                measured = _rounds_run(
                    host, ports, masters, path=path, rounds=rounds, seconds=seconds, clients=clients
                )
        except StackError as error:
            raise CommandError(str(error)) from None
        summary = _summary(measured, path=path, rounds=rounds, seconds=seconds, clients=clients)
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "metrics-overhead.json").write_text(json.dumps(summary, indent=2))
        self.stdout.write(_summary_line(measured, path=path, rounds=rounds, seconds=seconds))
        if measured.non_200 or measured.overhead >= TARGET_OVERHEAD:
            raise CommandError("metrics overhead over target (or errors); see the report")
