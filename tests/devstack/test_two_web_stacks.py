"""Two web stacks, one store: what a second host behind any load balancer must hold to.

Stack A is a whole stack (web, worker, beat, simulator); stack B is another gunicorn on
its own port, on the same database, cache and broker (`run_stack --web-only`, as
`make run WEB_ONLY=1` starts it). Buyers take carts on one and pay on the other, hit one
SKU from both at once, and retry one order on both; a price changed through one is read
on both; a breaker one stack opened, and a kill switch a person threw, hold on both.
The invariants: no oversell, one order and one capture per key, the order audit clean,
no stale page on either stack, one breaker and one release state for all stacks.
"""

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.processes import Stack, StackConfig, free_port, web_process, web_stack_config
from integrations.fault_presets import faults_set
from tests.devstack.conftest import BUYER_ADDRESS, Answer, http, manage

pytestmark = pytest.mark.stack

BACKOFFICE_TOKEN = "two-stacks-token"
STOCK = 4
BUYERS = 12


@dataclass(frozen=True)
class TwoStacks:
    a: str
    b: str
    env: dict[str, str]
    upstream_url: str


@pytest.fixture(scope="module")
def two_stacks(stack_env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoStacks]:
    env = {**stack_env, "PEAKSTORE_BACKOFFICE_TOKEN": BACKOFFICE_TOKEN}
    first = StackConfig(
        port=free_port(),
        simulator_port=free_port(),
        env=env,
        log_dir=tmp_path_factory.mktemp("stack-a-logs"),
        ready_timeout=90,
    )
    second = web_stack_config(
        StackConfig(port=free_port(), env=env, log_dir=tmp_path_factory.mktemp("stack-b-logs")),
        upstream_url=first.upstream_url,
    )
    with Stack(first), Stack(second, processes=[replace(web_process(second), name="web-b")]):
        yield TwoStacks(
            a=first.base_url, b=second.base_url, env=env, upstream_url=first.upstream_url
        )


def _backoffice(method: str, url: str, payload: dict) -> Answer:
    headers = {"Authorization": f"Bearer {BACKOFFICE_TOKEN}"}
    answer = http(method, url, payload=payload, headers=headers)
    assert answer.status == 200, answer.body
    return answer


def _one_product(base_url: str) -> tuple[str, str]:
    listing = http("GET", f"{base_url}/api/v1/products/")
    assert listing.status == 200, listing.body
    for product in listing.json()["results"]:
        detail = http("GET", f"{base_url}/api/v1/products/{product['slug']}/").json()
        if len(detail["variants"]) == 1:
            return product["slug"], detail["variants"][0]["sku"]
    pytest.fail("no one-variant product in the first page")


def _order(base_url: str, cart: str, key: str) -> Answer:
    return http(
        "POST",
        f"{base_url}/api/v1/orders/",
        payload={
            "cart": cart,
            "email": "ada@example.com",
            "shipping_address": BUYER_ADDRESS,
            "shipping_method": "standard",
            "payment_token": "tok_ok",
        },
        headers={"Idempotency-Key": key},
    )


def test_a_price_changed_through_one_stack_is_read_on_both(two_stacks: TwoStacks):
    slug, sku = _one_product(two_stacks.a)
    for base in (two_stacks.a, two_stacks.b):  # warm both stacks' pages
        http("GET", f"{base}/p/{slug}/")
        http("GET", f"{base}/p/{slug}/")

    # Each change is read at once on both: a worker that kept the cache epoch in memory
    # (services: toolkit.cache.tracking) has heard of the change by then.
    for amount in ("654.32", "655.32", "656.32", "657.32", "658.32"):
        _backoffice("PUT", f"{two_stacks.b}/backoffice/v1/prices/{sku}", {"amount": amount})
        for base in (two_stacks.a, two_stacks.b):
            assert amount in http("GET", f"{base}/p/{slug}/").body, (base, amount)
            detail = http("GET", f"{base}/api/v1/products/{slug}/").json()
            assert detail["variants"][0]["price"] == amount, (base, amount)
    # And no entry in the shared cache holds the old price (exit 1 on drift)
    manage(two_stacks.env, "cache_audit")


def test_buyers_on_both_stacks_never_oversell_nor_pay_twice(two_stacks: TwoStacks):
    # Given one SKU with STOCK units, and BUYERS buyers split across the stacks
    _, sku = _one_product(two_stacks.b)
    _backoffice(
        "POST", f"{two_stacks.a}/backoffice/v1/stock/{sku}", {"set": STOCK, "reason": "test"}
    )
    stacks = (two_stacks.a, two_stacks.b)
    outcomes: list[int] = []
    lock = threading.Lock()

    def buy(number: int) -> None:
        # The cart on one stack, the order on the other.
        cart_on, pay_on = stacks[number % 2], stacks[(number + 1) % 2]
        cart = http("POST", f"{cart_on}/api/v1/carts/", payload={}).json()["token"]
        line = http(
            "POST", f"{cart_on}/api/v1/carts/{cart}/lines/", payload={"sku": sku, "quantity": 1}
        )
        status = line.status
        if status == 201:
            status = _order(pay_on, cart, str(uuid.uuid4())).status
        with lock:
            outcomes.append(status)

    # When they all buy at once
    threads = [threading.Thread(target=buy, args=(n,)) for n in range(BUYERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # Then no more orders than units, the rest refused, none failed
    assert len(outcomes) == BUYERS
    assert outcomes.count(201) <= STOCK
    assert outcomes.count(201) >= 1
    assert set(outcomes) <= {201, 409}, outcomes
    # And stock, allocations and captures agree (the audit reads both stacks' writes)
    assert "order audit clean" in manage(two_stacks.env, "audit_orders")


def test_one_order_retried_on_both_stacks_is_one_order_and_one_charge(two_stacks: TwoStacks):
    # Given one cart and one Idempotency-Key
    _, sku = _one_product(two_stacks.a)
    _backoffice("POST", f"{two_stacks.a}/backoffice/v1/stock/{sku}", {"add": 10, "reason": "test"})
    cart = http("POST", f"{two_stacks.a}/api/v1/carts/", payload={}).json()["token"]
    line = http(
        "POST", f"{two_stacks.a}/api/v1/carts/{cart}/lines/", payload={"sku": sku, "quantity": 1}
    )
    assert line.status == 201, line.body
    key = str(uuid.uuid4())
    answers: list[Answer] = []
    lock = threading.Lock()

    def post(base: str) -> None:
        answer = _order(base, cart, key)
        with lock:
            answers.append(answer)

    # When the client sends it to both stacks at once, twice each
    threads = [
        threading.Thread(target=post, args=(base,)) for base in (two_stacks.a, two_stacks.b) * 2
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # Then every answer that made an order names the same one
    numbers = {answer.json()["number"] for answer in answers if answer.status in (200, 201)}
    assert len(numbers) == 1, [(a.status, a.body[:200]) for a in answers]
    # And every answer is that order, or "in progress" for a retry that raced it
    assert {answer.status for answer in answers} <= {200, 201, 409}
    # And the audit finds one capture per paid order, nothing oversold
    assert "order audit clean" in manage(two_stacks.env, "audit_orders")


def _calls(base_url: str, dependency: str) -> dict[str, float]:
    """This stack's calls to `dependency` so far, by outcome (`/metrics`, both workers)."""
    answer = http("GET", f"{base_url}/metrics")
    assert answer.status == 200, answer.body[:300]
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(answer.body)
        for sample in family.samples
        if sample.name == "peakstore_dependency_calls_total"
        and sample.labels.get("dependency") == dependency
    }


def _moved(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before.get(k, 0.0) for k in after if after[k] != before.get(k, 0.0)}


def _product_slugs(base_url: str) -> list[str]:
    """The catalog's second page of slugs (24 of the 50): products no other test shows."""
    listing = http("GET", f"{base_url}/api/v1/products/?page=2")
    assert listing.status == 200, listing.body
    return [product["slug"] for product in listing.json()["results"]]


def test_a_breaker_one_stack_opened_is_open_on_the_other(two_stacks: TwoStacks):
    slugs = iter(_product_slugs(two_stacks.a)[:14])  # pages neither stack has cached
    # The simulator's control API from here, not `manage.py faults`: B must ask within
    # the breaker's 10 s open window, and a command's start-up takes seconds under load.
    faults_set("reviews", {"down": True}, url=two_stacks.upstream_url)
    try:
        # Given stack A's product pages failing to reach reviews until its breaker opens
        for _ in range(12):
            page = http("GET", f"{two_stacks.a}/p/{next(slugs)}/")
            assert page.status == 200, page.body[:300]
            if _calls(two_stacks.a, "reviews").get("short_circuited"):
                break
        else:
            pytest.fail(
                f"stack A's reviews breaker never opened: {_calls(two_stacks.a, 'reviews')}"
            )
    finally:
        faults_set("reviews", {}, url=two_stacks.upstream_url)  # healthy again
    before = _calls(two_stacks.b, "reviews")

    # When stack B, which never saw a failure, renders a product page within the open
    # window (10 s) while the service is healthy again
    page = http("GET", f"{two_stacks.b}/p/{next(slugs)}/")

    # Then it does not call reviews: A's open breaker is B's too
    assert page.status == 200
    assert 'data-degraded="reviews"' in page.body
    moved = _moved(before, _calls(two_stacks.b, "reviews"))
    assert moved.get("short_circuited") == 1, moved
    assert not {"ok", "error", "timeout"} & set(moved), moved


def test_a_kill_switch_thrown_once_holds_on_both_stacks(two_stacks: TwoStacks):
    manage(
        two_stacks.env,
        "createsuperuser",
        "--noinput",
        "--username",
        "lead",
        "--email",
        "lead@example.com",
    )
    rollout = ("rollout", "--actor", "lead", "--reason", "two stacks, one switch")
    slugs = iter(_product_slugs(two_stacks.b)[14:])  # past the breaker test's
    before = {base: _calls(base, "recommendations") for base in (two_stacks.a, two_stacks.b)}

    # When a person switches recommendations off, from neither stack
    manage(two_stacks.env, *rollout, "stop", "recommendations")
    try:
        # Then neither stack shows them or calls the service for them
        for base in (two_stacks.a, two_stacks.b):
            page = http("GET", f"{base}/p/{next(slugs)}/")
            assert page.status == 200, page.body[:300]
            assert 'data-slot="recommendations"' not in page.body, base
            assert _moved(before[base], _calls(base, "recommendations")) == {}, base
    finally:
        manage(two_stacks.env, *rollout, "resume", "recommendations")

    # And once it is back on, both call the service again
    for base in (two_stacks.a, two_stacks.b):
        http("GET", f"{base}/p/{next(slugs)}/")
        assert _moved(before[base], _calls(base, "recommendations")).get("ok", 0) >= 1, base
