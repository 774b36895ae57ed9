"""The overload check: a campaign route mix, its figures per phase, and the verdict.

`bench_overload` measures the mix's capacity with a closed loop, then offers it
open-loop (`loadtests/openloop.py`) at 0.8x and 1.5x that capacity. Admission control
must shed nothing at 0.8x; at 1.5x it must shed enough that admitted requests meet
their routes' p95 SLOs while the goodput stays at 0.8x capacity or more; and the wait
it estimates must be the wait requests meet (within ±50%).

The measured wait is what requests spent queued before a worker served them: their
total client latency minus the server's own time for them, over every answered request
(shed ones included: they queue in the same accept queue before admission control sees
them, and their server time, a few microseconds, is left out of the route histogram).
The server's time is the growth of `peakstore_http_request_duration_seconds_sum` over
the phase for the mix's routes. The estimated wait is admission control's gauge,
`peakstore_admission_expected_wait_seconds`, sampled at even intervals during the
phase; Poisson arrivals see time averages (PASTA), so the mean of the samples and the
mean wait of the arrivals describe the same queue.

Pure functions, no Django: the command supplies the catalog snapshot, the route and
SLO of each request name, and the scrapes.
"""

from __future__ import annotations

import json
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from loadtests.campaign import campaign_visit
from loadtests.catalog import CatalogSnapshot, Weighted
from loadtests.identity import client_headers
from loadtests.openloop import Lateness, Outcome, Request, Scrape, lateness_summarize
from loadtests.results import sample_key
from perfstats.quantiles import percentile

FACTORS = {"below capacity": 0.8, "overload": 1.5}
NO_SHED_PHASE = "below capacity"
OVERLOAD_PHASE = "overload"
GOODPUT_FLOOR = 0.8  # of capacity, at 1.5x
WAIT_TOLERANCE = 0.5  # estimated wait within ±50% of measured
# Lateness past this at the p99 means the generator fell behind the schedule, so the
# offered rate was not what the phase claims: a fifth of the smallest shedding budget.
LATENESS_P99_MAX_MS = 10.0
WARM_PRODUCTS = 100
CAMPAIGN = "spring-newsletter"
BOT_AGENT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
DEEP_PAGE = 4  # the store's STOREFRONT_ADMISSION_DEEP_PAGE: its deep_browse class
LISTING_SORTS = ("", "popular", "newest", "name")
SEARCH_SORTS = ("relevance", "popular", "price_asc", "price_desc", "newest")
WAIT_GAUGE = "peakstore_admission_expected_wait_seconds"
SHED_COUNTER = "peakstore_requests_shed_total"
DURATION_SUM = "peakstore_http_request_duration_seconds_sum"
DURATION_COUNT = "peakstore_http_request_duration_seconds_count"
METRICS_PREFIXES = (WAIT_GAUGE, SHED_COUNTER, DURATION_SUM, DURATION_COUNT)


@dataclass(frozen=True)
class MixEntry:
    """One kind of request in the mix: its share, and the path template of its route."""

    name: str
    weight: float
    template: str  # e.g. /c/[slug]/: the command resolves it to the route and its SLO
    method: str
    route_class: str
    build: Callable[[random.Random], Request]


def cart_client_id(index: int, run: str = "") -> str:
    """The simulated shopper owning the `index`th cart made for the mix in run `run`.

    New shoppers every run: a shopper's holds last up to 30 minutes and are capped at a
    share of an item's stock, so the same shopper in the next run on a reused var dir
    found its share of a SKU held by its last run's carts (409 `reservation_limit`).
    """
    return f"overload-{run}-cart-{index}" if run else f"overload-cart-{index}"


def overload_mix(
    snapshot: CatalogSnapshot,
    *,
    carts: Sequence[str],
    cart_skus: Sequence[str] = (),
    loadgen_key: str = "",
    run: str = "",
) -> tuple[MixEntry, ...]:
    """Return campaign traffic whose capacity a Python generator can exceed on 2 cores.

    Cheap and hot: category and product landings with campaign parameters and a click
    id unique to each request (warm pages: the page cache ignores both). Expensive and
    cold: searches with a varied term, price ceiling and sort (nearly every one a miss), deep
    listing pages (deep_browse), a crawler walking the whole catalog (bot). Never shed:
    API cart adds (critical), into carts made beforehand (`carts`), each cart its own
    client (`cart_client_id` of `run`) when the store accepts the run's `loadgen_key`
    (`loadtests/identity.py`), of `cart_skus` (every buyable SKU when empty).
    """
    categories = snapshot.categories
    deep = [c for c in categories.items if c.pages >= DEEP_PAGE]
    hot = Weighted(
        snapshot.products.items[:WARM_PRODUCTS], snapshot.products.weights[:WARM_PRODUCTS]
    )
    skus = list(cart_skus) or snapshot.buyable_skus

    def landing(path: str, rng: random.Random) -> str:
        return campaign_visit(CAMPAIGN, rng).landing_url(path, rng)

    def category(rng: random.Random) -> Request:
        path = f"/c/{categories.pick(rng).slug}/"
        return Request("category", "browse", "GET", landing(path, rng))

    def product(rng: random.Random) -> Request:
        path = f"/p/{hot.pick(rng).slug}/"
        return Request("product", "browse", "GET", landing(path, rng))

    def search(rng: random.Random) -> Request:
        term, sort = snapshot.search_terms.pick(rng), rng.choice(SEARCH_SORTS)
        query = f"q={term}&price_max={rng.randint(20, 400)}&sort={sort}"
        return Request("search", "browse", "GET", f"/search/?{query}")

    def deep_page(rng: random.Random) -> Request:
        listing = rng.choice(deep)
        query = f"page={rng.randint(DEEP_PAGE, listing.pages)}"
        if sort := rng.choice(LISTING_SORTS):
            query += f"&sort={sort}"
        return Request("deep", "deep_browse", "GET", f"/c/{listing.slug}/?{query}")

    def crawler(rng: random.Random) -> Request:
        path = f"/p/{rng.choice(snapshot.products.items).slug}/"
        return Request("bot", "bot", "GET", path, user_agent=BOT_AGENT)

    def cart_add(rng: random.Random) -> Request:
        body = json.dumps({"sku": rng.choice(skus), "quantity": 1}).encode()
        cart = rng.randrange(len(carts))
        target = f"/api/v1/carts/{carts[cart]}/lines/"
        # Each cart is one shopper's (`cart_client_id`), throttled and capped as such.
        client = tuple(client_headers(cart_client_id(cart, run), loadgen_key).items())
        return Request("cart-add", "critical", "POST", target, body=body, headers=client)

    return (
        MixEntry("category", 25, "/c/[slug]/", "GET", "browse", category),
        MixEntry("product", 30, "/p/[slug]/", "GET", "browse", product),
        MixEntry("search", 20, "/search/", "GET", "browse", search),
        MixEntry("deep", 10, "/c/[slug]/", "GET", "deep_browse", deep_page),
        MixEntry("bot", 5, "/p/[slug]/", "GET", "bot", crawler),
        MixEntry("cart-add", 10, "/api/v1/carts/[token]/lines/", "POST", "critical", cart_add),
    )


def mix_picker(mix: Sequence[MixEntry]) -> Callable[[random.Random], Request]:
    """Return a function that builds the next request, entries drawn by weight."""
    entries = Weighted(tuple(mix), tuple(entry.weight for entry in mix))
    return lambda rng: entries.pick(rng).build(rng)


def warm_paths(snapshot: CatalogSnapshot) -> list[str]:
    """The pages the mix expects warm: every category and the hot products."""
    return [f"/c/{c.slug}/" for c in snapshot.categories.items] + [
        f"/p/{p.slug}/" for p in snapshot.products.items[:WARM_PRODUCTS]
    ]


@dataclass(frozen=True)
class RouteLatency:
    route: str
    requests: int  # admitted (answered, not shed)
    p95_ms: float
    slo_ms: float


@dataclass(frozen=True)
class Wait:
    """Admission control's estimate against the wait requests met, in seconds."""

    estimated_s: float | None  # mean of the gauge's samples; None: no sample
    samples: int
    measured_s: float | None  # None: nothing answered, or no server time to subtract
    server_requests: int  # the histogram's count growth: compare with `answered`
    answered: int

    @property
    def ratio(self) -> float | None:
        if self.estimated_s is None or not self.measured_s:
            return None
        return self.estimated_s / self.measured_s


@dataclass(frozen=True)
class PhaseFigures:
    name: str
    factor: float
    seconds: float
    offered: int
    offered_per_s: float
    good: int
    goodput_per_s: float
    shed: int
    shed_share: float  # of offered requests
    shed_by_class: dict[str, float]  # class -> shed share of that class's offered requests
    server_shed: dict[str, int]  # the store's own counter's growth, by class
    errors: dict[str, int]  # kind -> count: no answer, or an answer neither 2xx nor shed
    routes: list[RouteLatency]
    service_ms: dict[str, float]  # the server's mean time per admitted request, by route
    server_s: float  # the server's own time for the admitted requests, all routes
    wait: Wait
    lateness: Lateness


def phase_figures(
    *,
    name: str,
    factor: float,
    seconds: float,
    outcomes: Sequence[Outcome],
    scrapes: Sequence[Scrape],
    routes: Mapping[str, tuple[str, str]],
    slos: Mapping[str, float],
) -> PhaseFigures:
    """Sum up one phase. `routes`: request name -> (route, method); `slos`: route -> ms.

    `scrapes` span the phase: the first before its first request, the last after its
    last answer; the ones in between (stamped within the phase) sample the gauge.
    """
    start = min((o.scheduled for o in outcomes), default=0.0)
    end = max((o.done for o in outcomes), default=start)
    elapsed = max(seconds, end - start)
    good = sum(1 for o in outcomes if o.good)
    served = server_time(scrapes, routes)
    offered_by_class = Counter(o.route_class for o in outcomes)
    shed_by_class = Counter(o.route_class for o in outcomes if o.shed)
    return PhaseFigures(
        name=name,
        factor=factor,
        seconds=seconds,
        offered=len(outcomes),
        offered_per_s=len(outcomes) / seconds,
        good=good,
        goodput_per_s=good / elapsed,
        shed=sum(shed_by_class.values()),
        shed_share=sum(shed_by_class.values()) / len(outcomes) if outcomes else 0.0,
        shed_by_class={
            route_class: shed_by_class[route_class] / offered
            for route_class, offered in sorted(offered_by_class.items())
        },
        server_shed=_counter_growth(scrapes, SHED_COUNTER, "route_class", offered_by_class),
        errors=dict(Counter(_error_kind(o) for o in outcomes if _error_kind(o))),
        routes=_route_latencies(outcomes, routes, slos),
        service_ms={
            route: round(1e3 * total / count, 2)
            for route, (count, total) in served.items()
            if count
        },
        server_s=sum(total for _, total in served.values()),
        wait=_wait(outcomes, scrapes, served, start=start, end=start + seconds),
        lateness=lateness_summarize(outcomes),
    )


def _error_kind(outcome: Outcome) -> str:
    if outcome.error:
        return outcome.error
    if outcome.good or outcome.shed:
        return ""
    return f"HTTP {outcome.status}"


def _route_latencies(
    outcomes: Sequence[Outcome],
    routes: Mapping[str, tuple[str, str]],
    slos: Mapping[str, float],
) -> list[RouteLatency]:
    """p95 of admitted requests by route, from each request's scheduled time."""
    times: dict[str, list[float]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.answered and not outcome.shed:
            times[routes[outcome.name][0]].append(outcome.response_time * 1e3)
    return [
        RouteLatency(route, len(ms), percentile(ms, 0.95), slos[route])
        for route, ms in sorted(times.items())
    ]


def _counter_growth(
    scrapes: Sequence[Scrape], name: str, label: str, values: Mapping[str, object]
) -> dict[str, int]:
    if len(scrapes) < 2:
        return {}
    first, last = scrapes[0].samples, scrapes[-1].samples
    growth = {}
    for value in sorted(values):
        key = sample_key(name, {label: value})
        growth[value] = round(last.get(key, 0.0) - first.get(key, 0.0))
    return growth


def server_time(
    scrapes: Sequence[Scrape], routes: Mapping[str, tuple[str, str]]
) -> dict[str, tuple[int, float]]:
    """Requests answered past admission and their seconds, by route, between two scrapes.

    From the growth of the route histogram's count and sum from the first scrape to the
    last; `routes` names the (route, method) pairs to read.
    """
    if len(scrapes) < 2:
        return {}
    first, last = scrapes[0].samples, scrapes[-1].samples
    found: dict[str, tuple[int, float]] = {}
    for route, method in sorted(set(routes.values())):
        labels = {"route": route, "method": method}
        count_key, sum_key = sample_key(DURATION_COUNT, labels), sample_key(DURATION_SUM, labels)
        count = round(last.get(count_key, 0.0) - first.get(count_key, 0.0))
        seconds = last.get(sum_key, 0.0) - first.get(sum_key, 0.0)
        previous = found.get(route, (0, 0.0))
        found[route] = (previous[0] + count, previous[1] + seconds)
    return found


def _wait(
    outcomes: Sequence[Outcome],
    scrapes: Sequence[Scrape],
    served: Mapping[str, tuple[int, float]],
    *,
    start: float,
    end: float,
) -> Wait:
    gauge = [
        s.samples[WAIT_GAUGE] for s in scrapes if start <= s.t <= end and WAIT_GAUGE in s.samples
    ]
    answered = [o for o in outcomes if o.answered]
    server_requests = sum(count for count, _ in served.values())
    server_s = sum(seconds for _, seconds in served.values())
    measured = None
    if answered and server_requests:
        measured = (sum(o.latency for o in answered) - server_s) / len(answered)
    return Wait(
        estimated_s=statistics.fmean(gauge) if gauge else None,
        samples=len(gauge),
        measured_s=measured,
        server_requests=server_requests,
        answered=len(answered),
    )


@dataclass(frozen=True)
class Verdict:
    target: str
    figure: str
    met: bool


def verdicts(*, capacity_per_s: float, phases: Sequence[PhaseFigures]) -> list[Verdict]:
    """Judge every target of the check; a phase that is missing is a miss, not a pass.

    Every phase: the generator kept its schedule (else the load was not open-loop at
    the rate claimed), no request failed, and the estimated wait is the measured one
    within ±50%. Below capacity nothing is shed; in overload every route's admitted p95
    is within its SLO and the goodput stays at 0.8x capacity or more.
    """
    by_name = {phase.name: phase for phase in phases}
    found = []
    for name in FACTORS:
        phase = by_name.get(name)
        if phase is None:
            found.append(Verdict(f"{name}: phase ran", "missing", False))
            continue
        found += _generator_verdicts(phase)
        found.append(_wait_verdict(phase))
        if name == NO_SHED_PHASE:
            shed = f"{phase.shed} of {phase.offered} shed"
            found.append(Verdict(f"{name}: nothing shed", shed, phase.shed == 0))
        if name == OVERLOAD_PHASE:
            found += _overload_verdicts(phase, capacity_per_s)
    return found


def _generator_verdicts(phase: PhaseFigures) -> list[Verdict]:
    late = phase.lateness
    errors = sum(phase.errors.values())
    detail = ", ".join(f"{kind} {count}" for kind, count in sorted(phase.errors.items()))
    return [
        Verdict(
            f"{phase.name}: generator on schedule (p99 lateness <= {LATENESS_P99_MAX_MS:g} ms, "
            "none unsent)",
            f"p99 {late.p99_ms:.1f} ms, max {late.max_ms:.1f} ms, {late.unsent} unsent",
            late.p99_ms <= LATENESS_P99_MAX_MS and late.unsent == 0,
        ),
        Verdict(f"{phase.name}: no errors", detail or "0", errors == 0),
    ]


def _wait_verdict(phase: PhaseFigures) -> Verdict:
    wait = phase.wait
    ratio = wait.ratio
    figure = (
        f"estimated {_ms(wait.estimated_s)} vs measured {_ms(wait.measured_s)} "
        f"(ratio {'n/a' if ratio is None else f'{ratio:.2f}'})"
    )
    met = ratio is not None and abs(ratio - 1.0) <= WAIT_TOLERANCE
    return Verdict(f"{phase.name}: estimated wait within ±50% of measured", figure, met)


def _overload_verdicts(phase: PhaseFigures, capacity_per_s: float) -> list[Verdict]:
    found = [
        Verdict(
            f"{phase.name}: {route.route} admitted p95 within SLO",
            f"{route.p95_ms:.0f} ms, SLO {route.slo_ms:.0f} ms ({route.requests} admitted)",
            route.p95_ms <= route.slo_ms,
        )
        for route in phase.routes
    ]
    floor = GOODPUT_FLOOR * capacity_per_s
    found.append(
        Verdict(
            f"{phase.name}: goodput >= {GOODPUT_FLOOR}x capacity",
            f"{phase.goodput_per_s:.1f}/s vs {floor:.1f}/s "
            f"({phase.goodput_per_s / capacity_per_s:.2f}x of {capacity_per_s:.1f}/s)"
            if capacity_per_s
            else "no capacity measured",
            capacity_per_s > 0 and phase.goodput_per_s >= floor,
        )
    )
    return found


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e3:.1f} ms"
