"""Open-loop load: every request starts at its scheduled time, whatever the answers.

A closed-loop client (a Locust user, a wrk connection) sends its next request when the
last one is answered, so a server that slows down slows its clients down with it: the
offered load falls exactly when it should not, and a queue never builds the way a real
crowd builds it. Here arrivals are scheduled first (Poisson, or evenly spaced) at a
fixed rate, and each starts on a connection of its own at its time, never waiting for
an earlier answer. Only the time and request count bound a phase.

The client speaks HTTP/1.1 over asyncio streams, one connection per request: gunicorn's
sync workers close every connection after one answer anyway, so a pool would save
nothing, and a full HTTP library would cost more CPU per request than the store's
cached pages do. The event loop keeps thousands of requests in flight on one core.

A generator that cannot keep up silently turns closed-loop, so its own lateness (actual
send time minus scheduled time) is measured for every request and reported; arrivals
past the in-flight cap are counted as unsent, never queued.

No Django and no import of the store: requests are plain paths built from the catalog
snapshot (`loadtests/catalog.py`), and `/metrics` is read as text.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from loadtests.results import sample_key
from perfstats.quantiles import percentiles

# A request not answered by then is a timeout: far past any SLO, and it bounds the drain.
TIMEOUT_S = 10.0
# More requests in flight than this means the server stopped answering; the generator
# counts further arrivals as unsent instead of opening thousands more sockets.
MAX_IN_FLIGHT = 4000
# Lateness past this is the generator falling behind, not timer resolution or a
# scheduler slice on a crowded machine; a fiftieth of the smallest shedding budget.
LATE_AFTER_S = 0.001
SHED_HEADER = b"\r\nx-peakstore-shed:"
UNSENT = "unsent"
TIMEOUT = "timeout"


@dataclass(frozen=True)
class Request:
    """One HTTP request as the generator sends it; `name` groups it in the figures."""

    name: str
    route_class: str  # the admission class the store is expected to put it in
    method: str
    target: str  # path and query string
    user_agent: str = "peakstore-openloop"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()  # more header lines (a simulated client)

    def encode(self, host: str) -> bytes:
        lines = [
            f"{self.method} {self.target} HTTP/1.1",
            f"Host: {host}",
            f"User-Agent: {self.user_agent}",
            "Accept: text/html,application/json",
            "Connection: close",
            *(f"{name}: {value}" for name, value in self.headers),
        ]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines += ["Content-Type: application/json", f"Content-Length: {len(self.body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass(frozen=True)
class Arrival:
    at: float  # seconds after the phase starts
    request: Request


@dataclass(frozen=True)
class Outcome:
    """What became of one request; times in seconds on the generator's monotonic clock."""

    name: str
    route_class: str
    scheduled: float
    sent: float  # when its connection was opened (equal to `scheduled` if unsent)
    done: float
    status: int  # 0: no answer (see `error`)
    shed_class: str  # the X-Peakstore-Shed value; empty when admitted
    error: str = ""

    @property
    def lateness(self) -> float:
        return self.sent - self.scheduled

    @property
    def latency(self) -> float:
        """From the send to the last byte: queueing in the server included."""
        return self.done - self.sent

    @property
    def response_time(self) -> float:
        """From the scheduled time: what a visitor arriving then would have waited."""
        return self.done - self.scheduled

    @property
    def answered(self) -> bool:
        return self.status > 0

    @property
    def shed(self) -> bool:
        return bool(self.shed_class)

    @property
    def good(self) -> bool:
        return 200 <= self.status < 300


def arrival_offsets(
    *, rate: float, duration_s: float, rng: random.Random, poisson: bool = True, max_count: int
) -> list[float]:
    """Return the send times of a phase, in seconds from its start, in order.

    Poisson arrivals (exponential gaps) are what independent visitors produce, and they
    see the server's time averages (PASTA), so the mean wait they meet is comparable
    with a gauge sampled at even intervals. Evenly spaced arrivals are the alternative.
    Bounded by both the duration and `max_count`.
    """
    if rate <= 0 or duration_s <= 0:
        return []
    offsets: list[float] = []
    at = rng.expovariate(rate) if poisson else 0.0
    while at < duration_s and len(offsets) < max_count:
        offsets.append(at)
        at += rng.expovariate(rate) if poisson else 1.0 / rate
    return offsets


def schedule_build(
    pick: Callable[[random.Random], Request], offsets: Iterable[float], rng: random.Random
) -> list[Arrival]:
    """Attach a request to every send time; built ahead, so sending costs no choice."""
    return [Arrival(at, pick(rng)) for at in offsets]


def response_read(data: bytes) -> tuple[int, str]:
    """Return the status and the X-Peakstore-Shed value of a raw HTTP/1.1 response."""
    head = data.split(b"\r\n\r\n", 1)[0]
    try:
        status = int(head[9:12])
    except ValueError:
        return 0, ""
    at = head.lower().find(SHED_HEADER)
    if at < 0:
        return status, ""
    value = head[at + len(SHED_HEADER) :].split(b"\r\n", 1)[0]
    return status, value.strip().decode("latin-1")


async def exchange(host: str, port: int, payload: bytes) -> bytes:
    """Send one request on a new connection and return the whole response (read to EOF)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(payload)
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()


class Target:
    """Where requests go: a loopback HTTP server, by host and port."""

    def __init__(self, host: str, port: int, *, timeout_s: float = TIMEOUT_S) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._authority = f"{host}:{port}"

    async def send(self, request: Request, *, scheduled: float) -> Outcome:
        """Send `request` now and wait for its answer; never raises."""
        sent = time.monotonic()
        status, shed_class, error = 0, "", ""
        try:
            async with asyncio.timeout(self.timeout_s):
                data = await exchange(self.host, self.port, request.encode(self._authority))
            status, shed_class = response_read(data)
            if not status:
                error = "malformed response"
        except TimeoutError:
            error = TIMEOUT
        except OSError as failure:
            error = type(failure).__name__
        return Outcome(
            request.name,
            request.route_class,
            scheduled,
            sent,
            time.monotonic(),
            status,
            shed_class,
            error,
        )

    async def fetch(
        self,
        target: str,
        *,
        method: str = "GET",
        body: bytes = b"",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> bytes:
        """Return the whole response to one request (set-up calls and /metrics)."""
        request = Request("fetch", "exempt", method, target, body=body, headers=headers)
        async with asyncio.timeout(self.timeout_s):
            return await exchange(self.host, self.port, request.encode(self._authority))


async def open_loop_run(
    target: Target, schedule: Sequence[Arrival], *, max_in_flight: int = MAX_IN_FLIGHT
) -> tuple[float, list[Outcome]]:
    """Send each arrival at its time, then wait for every answer; return start and outcomes.

    All arrivals already due are launched at once (after a hiccup the generator catches
    up rather than slipping the whole schedule); their lateness records the hiccup.
    """
    start = time.monotonic() + 0.05  # the first arrivals are not late by the set-up
    in_flight: set[asyncio.Task[Outcome]] = set()
    tasks: list[asyncio.Task[Outcome]] = []
    unsent: list[Outcome] = []
    for arrival in schedule:
        scheduled = start + arrival.at
        if (delay := scheduled - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        if len(in_flight) >= max_in_flight:
            unsent.append(_unsent(arrival.request, scheduled))
            continue
        task = asyncio.create_task(target.send(arrival.request, scheduled=scheduled))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        tasks.append(task)
    outcomes = [*await asyncio.gather(*tasks), *unsent]
    return start, sorted(outcomes, key=lambda outcome: outcome.scheduled)


def _unsent(request: Request, scheduled: float) -> Outcome:
    return Outcome(
        request.name, request.route_class, scheduled, scheduled, scheduled, 0, "", UNSENT
    )


async def closed_loop_run(
    target: Target,
    pick: Callable[[random.Random], Request],
    *,
    connections: int,
    duration_s: float,
    rng: random.Random,
) -> list[Outcome]:
    """Keep `connections` requests in flight for `duration_s`: each sends on an answer.

    The capacity probe: a closed loop that keeps every worker busy finds the goodput
    the route mix can have; it cannot overload the server, which is why the phases
    after it are open-loop.
    """
    deadline = time.monotonic() + duration_s
    outcomes: list[Outcome] = []

    async def client() -> None:
        while (now := time.monotonic()) < deadline:
            outcomes.append(await target.send(pick(rng), scheduled=now))

    await asyncio.gather(*(client() for _ in range(connections)))
    return outcomes


@dataclass(frozen=True)
class Lateness:
    """How far behind its schedule the generator sent requests."""

    sent: int
    unsent: int  # arrivals dropped at the in-flight cap
    p50_ms: float
    p99_ms: float
    max_ms: float
    late_share: float  # of sent requests, later than `late_after_s`

    def as_dict(self) -> dict:
        return {
            "sent": self.sent,
            "unsent": self.unsent,
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "late_share": round(self.late_share, 4),
        }


def lateness_summarize(
    outcomes: Iterable[Outcome], *, late_after_s: float = LATE_AFTER_S
) -> Lateness:
    """Sum up the generator's lateness over a phase's outcomes."""
    outcomes = list(outcomes)
    late = [o.lateness for o in outcomes if o.error != UNSENT]
    p50, p99 = percentiles(late, 0.50, 0.99)
    return Lateness(
        sent=len(late),
        unsent=len(outcomes) - len(late),
        p50_ms=p50 * 1e3,
        p99_ms=p99 * 1e3,
        max_ms=max(late, default=0.0) * 1e3,
        late_share=sum(1 for s in late if s > late_after_s) / len(late) if late else 0.0,
    )


@dataclass(frozen=True)
class Scrape:
    """Samples of one /metrics answer, keyed `name{labels}` (labels sorted), and its time."""

    t: float
    samples: dict[str, float]


def samples_parse(text: str, *, prefixes: tuple[str, ...]) -> dict[str, float]:
    """Return the samples of an exposition whose names start with one of `prefixes`.

    Lines are filtered before they are parsed: the event loop that does this also sends
    requests, and a store's /metrics has a thousand lines of histogram buckets.
    """
    kept = "\n".join(line for line in text.splitlines() if line.startswith(prefixes))
    return {
        sample_key(sample.name, sample.labels): sample.value
        for family in text_string_to_metric_families(kept + "\n")
        for sample in family.samples
    }


async def metrics_scrape(target: Target, *, prefixes: tuple[str, ...]) -> Scrape | None:
    """Read /metrics once; None when it did not answer. Stamped with the time it was asked."""
    at = time.monotonic()
    try:
        data = await target.fetch("/metrics")
    except (TimeoutError, OSError):
        return None
    text = data.split(b"\r\n\r\n", 1)[-1].decode("utf-8", "replace")
    return Scrape(at, samples_parse(text, prefixes=prefixes))


async def metrics_scrapes(
    target: Target, *, every_s: float, until: float, prefixes: tuple[str, ...]
) -> list[Scrape]:
    """Read /metrics every `every_s` until `until` (monotonic), each read on time.

    A read is its own task, so a slow answer never delays the next one.
    """
    reads = []
    at = time.monotonic()
    while at < until:
        reads.append(asyncio.create_task(metrics_scrape(target, prefixes=prefixes)))
        at += every_s
        await asyncio.sleep(max(0.0, at - time.monotonic()))
    return [done for done in await asyncio.gather(*reads) if done is not None]


@dataclass(frozen=True)
class PhaseRun:
    outcomes: list[Outcome]
    # One read before the first request, reads during the phase, one after the last answer.
    scrapes: list[Scrape]


async def phase_run(
    target: Target,
    schedule: Sequence[Arrival],
    *,
    duration_s: float,
    scrape_every_s: float,
    prefixes: tuple[str, ...],
) -> PhaseRun:
    """Run one open-loop phase while sampling /metrics; bracket it with two more reads."""
    before = await metrics_scrape(target, prefixes=prefixes)
    until = time.monotonic() + duration_s
    (_, outcomes), during = await asyncio.gather(
        open_loop_run(target, schedule),
        metrics_scrapes(target, every_s=scrape_every_s, until=until, prefixes=prefixes),
    )
    after = await metrics_scrape(target, prefixes=prefixes)
    scrapes = [scrape for scrape in (before, *during, after) if scrape is not None]
    return PhaseRun(outcomes, scrapes)
