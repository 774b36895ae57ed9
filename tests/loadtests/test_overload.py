"""The overload check: its route mix, the figures of a phase, and the verdict per target."""

import dataclasses
import hashlib
import hmac
import json
import random
from urllib.parse import parse_qs, urlsplit

from loadtests.campaign import CLICK_NETWORKS
from loadtests.catalog import snapshot_from_dict
from loadtests.identity import LOADGEN_HEADER
from loadtests.openloop import Outcome, Scrape
from loadtests.overload import (
    DURATION_COUNT,
    DURATION_SUM,
    NO_SHED_PHASE,
    OVERLOAD_PHASE,
    SHED_COUNTER,
    WAIT_GAUGE,
    mix_picker,
    overload_mix,
    phase_figures,
    verdicts,
    warm_paths,
)
from loadtests.results import sample_key
from tests.loadtests.test_catalog import _snapshot_data

ROUTES = {"category": ("pages:category", "GET"), "cart-add": ("api:cart-lines", "POST")}
SLOS = {"pages:category": 200.0, "api:cart-lines": 300.0}


def _outcome(
    name: str = "category",
    *,
    at: float = 0.0,
    latency: float = 0.05,
    status: int = 200,
    shed: str = "",
    error: str = "",
) -> Outcome:
    route_class = "critical" if name == "cart-add" else "browse"
    return Outcome(name, route_class, at, at, at + latency, status, shed, error)


def _scrape(t: float, *, wait: float, served: int, seconds: float, shed: int = 0) -> Scrape:
    labels = {"route": "pages:category", "method": "GET"}
    return Scrape(
        t,
        {
            WAIT_GAUGE: wait,
            sample_key(DURATION_COUNT, labels): float(served),
            sample_key(DURATION_SUM, labels): seconds,
            sample_key(SHED_COUNTER, {"route_class": "browse"}): float(shed),
        },
    )


def _phase(name: str, outcomes: list[Outcome], scrapes: list[Scrape], seconds: float = 10.0):
    factor = 0.8 if name == NO_SHED_PHASE else 1.5
    return phase_figures(
        name=name,
        factor=factor,
        seconds=seconds,
        outcomes=outcomes,
        scrapes=scrapes,
        routes=ROUTES,
        slos=SLOS,
    )


def test_the_measured_wait_is_client_latency_less_the_servers_time():
    # given 100 admitted requests of 50 ms each at the client, 10 shed after 40 ms,
    # and the server's histogram saying the admitted ones took 10 ms each
    outcomes = [_outcome(at=n * 0.1) for n in range(100)]
    outcomes += [_outcome(at=n, latency=0.04, status=503, shed="browse") for n in range(10)]
    scrapes = [
        _scrape(-1, wait=0.0, served=1000, seconds=5.0, shed=3),
        _scrape(2.0, wait=0.03, served=1050, seconds=5.5, shed=8),
        _scrape(4.0, wait=0.05, served=1100, seconds=6.0, shed=13),
        _scrape(12.0, wait=0.0, served=1100, seconds=6.0, shed=13),
    ]

    phase = _phase(OVERLOAD_PHASE, outcomes, scrapes)

    # then the wait is (100 x 50 ms + 10 x 40 ms - 100 x 10 ms) / 110 answered
    assert round(phase.wait.measured_s * 1e3, 3) == round(4400 / 110, 3)
    # the estimate averages the gauge sampled within the phase only (not the brackets)
    assert phase.wait.samples == 2
    assert round(phase.wait.estimated_s, 6) == 0.04
    assert phase.wait.server_requests == 100
    assert phase.service_ms == {"pages:category": 10.0}
    assert phase.server_shed == {"browse": 10}


def test_shares_goodput_errors_and_p95_are_counted_over_offered_requests():
    outcomes = [_outcome(at=n * 0.01, latency=0.1) for n in range(90)]
    outcomes += [_outcome(at=1, status=503, shed="browse") for _ in range(5)]
    outcomes += [_outcome("cart-add", at=1, latency=0.4, status=201) for _ in range(4)]
    outcomes.append(_outcome(at=2, status=0, error="timeout", latency=10))

    phase = _phase(OVERLOAD_PHASE, outcomes, [], seconds=10)

    assert phase.offered == 100
    assert phase.shed == 5
    assert phase.shed_by_class == {"browse": 5 / 96, "critical": 0.0}
    assert phase.errors == {"timeout": 1}
    # goodput over the time the answers took, here past the phase (the timeout at 12 s)
    assert round(phase.goodput_per_s, 2) == round(94 / 12, 2)
    p95 = {route.route: route.p95_ms for route in phase.routes}
    assert round(p95["pages:category"]) == 100
    assert round(p95["api:cart-lines"]) == 400
    # without brackets of /metrics there is no server time, so no measured wait
    assert phase.wait.measured_s is None


def _passing_phases() -> list:
    calm = [_outcome(at=n * 0.01, latency=0.03) for n in range(100)]
    busy = [_outcome(at=n * 0.01, latency=0.15) for n in range(100)]
    busy += [_outcome(at=1, status=503, shed="browse") for _ in range(50)]
    calm_scrapes = [
        _scrape(-1, wait=0, served=0, seconds=0),
        _scrape(1, wait=0.02, served=0, seconds=0),
        _scrape(20, wait=0, served=100, seconds=1.0),
    ]
    busy_scrapes = [
        _scrape(-1, wait=0, served=0, seconds=0),
        _scrape(1, wait=0.09, served=0, seconds=0),
        _scrape(20, wait=0, served=100, seconds=1.0),
    ]
    return [
        _phase(NO_SHED_PHASE, calm, calm_scrapes, seconds=1.0),
        _phase(OVERLOAD_PHASE, busy, busy_scrapes, seconds=1.0),
    ]


def test_a_store_that_sheds_only_in_overload_and_keeps_its_slos_meets_every_target():
    phases = _passing_phases()

    found = verdicts(capacity_per_s=100.0, phases=phases)

    assert [v.target for v in found if not v.met] == []
    assert len(found) == 9  # 3 per phase, nothing shed, 2 route p95s, goodput


def test_shedding_below_capacity_is_a_miss():
    calm, busy = _passing_phases()
    calm = dataclasses.replace(calm, shed=3)

    found = verdicts(capacity_per_s=100.0, phases=[calm, busy])

    assert [v.target for v in found if not v.met] == ["below capacity: nothing shed"]


def test_an_admitted_p95_past_its_slo_or_a_low_goodput_in_overload_is_a_miss():
    calm, busy = _passing_phases()

    found = verdicts(capacity_per_s=200.0, phases=[calm, busy])  # goodput 94/s < 160/s
    slow = dataclasses.replace(busy, routes=[dataclasses.replace(busy.routes[0], p95_ms=250.0)])
    found_slow = verdicts(capacity_per_s=100.0, phases=[calm, slow])

    assert [v.target for v in found if not v.met] == ["overload: goodput >= 0.8x capacity"]
    assert [v.target for v in found_slow if not v.met] == [
        "overload: pages:category admitted p95 within SLO"
    ]


def test_an_estimate_off_by_more_than_half_is_a_miss_either_way():
    calm, busy = _passing_phases()
    measured = busy.wait.measured_s
    high = dataclasses.replace(busy.wait, estimated_s=measured * 1.6)
    low = dataclasses.replace(busy.wait, estimated_s=measured * 0.4)
    close = dataclasses.replace(busy.wait, estimated_s=measured * 1.4)

    def missed(wait) -> list[str]:
        phase = dataclasses.replace(busy, wait=wait)
        return [v.target for v in verdicts(capacity_per_s=100.0, phases=[calm, phase]) if not v.met]

    assert missed(high) == ["overload: estimated wait within ±50% of measured"]
    assert missed(low) == ["overload: estimated wait within ±50% of measured"]
    assert missed(close) == []


def test_a_late_generator_or_a_missing_phase_fails_the_check():
    calm, busy = _passing_phases()
    late = dataclasses.replace(calm.lateness, p99_ms=30.0)
    lagging = dataclasses.replace(calm, lateness=late)

    found = verdicts(capacity_per_s=100.0, phases=[lagging, busy])
    alone = verdicts(capacity_per_s=100.0, phases=[calm])

    assert [v.target for v in found if not v.met] == [
        "below capacity: generator on schedule (p99 lateness <= 10 ms, none unsent)"
    ]
    assert [v.target for v in alone if not v.met] == ["overload: phase ran"]


def _mix_requests(count: int = 2000):
    snapshot = snapshot_from_dict(_snapshot_data())
    mix = overload_mix(snapshot, carts=["cart-a", "cart-b"])
    pick = mix_picker(mix)
    rng = random.Random(5)
    return snapshot, mix, [pick(rng) for _ in range(count)]


def test_the_mix_draws_each_kind_by_its_weight():
    _, mix, requests = _mix_requests()
    weights = {entry.name: entry.weight for entry in mix}
    total = sum(weights.values())

    for name, weight in weights.items():
        share = sum(1 for r in requests if r.name == name) / len(requests)
        assert abs(share - weight / total) < 0.04, name


def test_landings_carry_a_unique_click_id_on_pages_the_check_warms():
    snapshot, _, requests = _mix_requests()
    warm = set(warm_paths(snapshot))

    landings = [r for r in requests if r.name in ("category", "product")]
    click_ids = []
    for request in landings:
        url = urlsplit(request.target)
        query = parse_qs(url.query)
        assert url.path in warm
        assert query["utm_campaign"]
        [network] = set(query) & set(CLICK_NETWORKS)
        click_ids.append(query[network][0])
    assert len(set(click_ids)) == len(click_ids)


def test_deep_pages_bots_and_cart_adds_are_what_admission_control_classes_them():
    _, _, requests = _mix_requests()
    by_name = {}
    for request in requests:
        by_name.setdefault(request.name, []).append(request)

    for request in by_name["deep"]:
        assert int(parse_qs(urlsplit(request.target).query)["page"][0]) >= 4
        assert request.route_class == "deep_browse"
    assert all("bot" in r.user_agent.lower() for r in by_name["bot"])
    for request in by_name["cart-add"]:
        assert request.method == "POST"
        assert request.target in ("/api/v1/carts/cart-a/lines/", "/api/v1/carts/cart-b/lines/")
        assert json.loads(request.body)["quantity"] == 1
    # searches vary: nearly every one is a page the cache has not seen
    searches = [r.target for r in by_name["search"]]
    assert len(set(searches)) > 0.9 * len(searches)


def test_cart_adds_pick_only_the_skus_they_are_given():
    snapshot = snapshot_from_dict(_snapshot_data())
    every_sku = snapshot.buyable_skus
    ample = every_sku[:1]
    pick = mix_picker(overload_mix(snapshot, carts=["cart-a"], cart_skus=ample))
    rng = random.Random(5)

    adds = [r for r in (pick(rng) for _ in range(500)) if r.name == "cart-add"]

    assert len(every_sku) > 1
    assert adds
    assert {json.loads(r.body)["sku"] for r in adds} == set(ample)


def test_each_cart_adds_as_its_own_signed_shopper_when_the_store_has_a_key():
    snapshot = snapshot_from_dict(_snapshot_data())
    pick = mix_picker(overload_mix(snapshot, carts=["cart-a", "cart-b"], loadgen_key="k"))
    rng = random.Random(5)
    adds = [r for r in (pick(rng) for _ in range(500)) if r.name == "cart-add"]

    clients = {}
    for request in adds:
        [(name, value)] = request.headers
        assert name == LOADGEN_HEADER
        client_id, _, signature = value.partition(".")
        assert signature == hmac.new(b"k", client_id.encode(), hashlib.sha256).hexdigest()
        clients.setdefault(request.target, set()).add(client_id)
        assert f"{name}: {value}\r\n".encode() in request.encode("store")
    assert {target: len(ids) for target, ids in clients.items()} == {
        "/api/v1/carts/cart-a/lines/": 1,
        "/api/v1/carts/cart-b/lines/": 1,
    }
    assert clients["/api/v1/carts/cart-a/lines/"] != clients["/api/v1/carts/cart-b/lines/"]


def test_each_run_adds_as_new_shoppers():
    # a shopper's holds outlive a run: the same shopper next run met its own share held
    snapshot = snapshot_from_dict(_snapshot_data())
    rng = random.Random(5)

    def shoppers(run: str) -> set[str]:
        pick = mix_picker(overload_mix(snapshot, carts=["cart-a"], loadgen_key="k", run=run))
        adds = [r for r in (pick(rng) for _ in range(200)) if r.name == "cart-add"]
        return {value.partition(".")[0] for r in adds for _, value in r.headers}

    first, second = shoppers("run-1"), shoppers("run-2")

    assert first
    assert second
    assert first.isdisjoint(second)


def test_without_a_key_requests_carry_no_identity():
    _, _, requests = _mix_requests(200)

    assert all(request.headers == () for request in requests)
