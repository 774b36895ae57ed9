"""Two web stacks, one store: what a second host behind any load balancer must hold to.

Stack A is a whole stack (web, worker, beat, simulator); stack B is another gunicorn on
its own port, on the same database, cache and broker (`run_stack --web-only`, as
`make run WEB_ONLY=1` starts it). Buyers take carts on one and pay on the other, hit one
SKU from both at once, and retry one order on both; a price changed through one is read
on both. The invariants: no oversell, one order and one capture per key, the order
audit clean, and no stale page on either stack.
"""

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from devstack.processes import Stack, StackConfig, free_port, web_process, web_stack_config
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
        yield TwoStacks(a=first.base_url, b=second.base_url, env=env)


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

    _backoffice("PUT", f"{two_stacks.b}/backoffice/v1/prices/{sku}", {"amount": "654.32"})

    for base in (two_stacks.a, two_stacks.b):
        assert "654.32" in http("GET", f"{base}/p/{slug}/").body, base
        detail = http("GET", f"{base}/api/v1/products/{slug}/").json()
        assert detail["variants"][0]["price"] == "654.32", base
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
