"""A real stack on a primary and a streaming standby: reads routed, never stale.

The stack runs on the services profile against a throwaway PostgreSQL pair of its own
(`pg_pair`, devstack/pgpair.py) and a private redis-server for its cache and broker, so
nothing here touches the shared servers. Prices change through the back office (the
owners' services, cache invalidation included) and every page and endpoint that shows
a price is read right after. With the standby's replay paused, the standby really holds
the old price (read from it directly) while no page ever shows it, and the standby
leaves rotation once its lag passes the limit, and comes back once it caught up.
"""

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.processes import Stack, StackConfig, free_port
from tests.devstack.conftest import LOADGEN_KEY, Answer, cart_with, http, manage, order_post
from tests.devstack.test_broker_outage import PrivateRedis, _redis_server

pytestmark = pytest.mark.stack

BACKOFFICE_TOKEN = "replica-test-token"
MAX_LAG_S = 10.0
CHECK_INTERVAL_S = 0.25
ROTATION_TIMEOUT_S = 60.0
_prices = count(1)


@dataclass(frozen=True)
class Shown:
    """A product that shows one price, and every URL that shows it."""

    sku: str
    variant_id: int
    urls: tuple[str, ...]


@pytest.fixture(scope="module")
def replica_stack(pg_pair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis = PrivateRedis(_redis_server(), free_port())
    redis.start()
    env = {
        "DATABASE_URL": pg_pair.primary_url,
        "DATABASE_REPLICA_URL": pg_pair.standby_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis.port}/1",
        "PEAKSTORE_VAR_DIR": str(tmp_path_factory.mktemp("replica-var")),
        "PEAKSTORE_ADMISSION": "0",
        "PEAKSTORE_LOADGEN_KEY": LOADGEN_KEY,
        "PEAKSTORE_LOG_FORMAT": "json",
        "PEAKSTORE_BACKOFFICE_TOKEN": BACKOFFICE_TOKEN,
        "PEAKSTORE_REPLICA_MAX_LAG": str(MAX_LAG_S),
        "PEAKSTORE_REPLICA_CHECK_INTERVAL": str(CHECK_INTERVAL_S),
    }
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "seed_store", "--products", "30", "--seed", "11")
        pg_pair.wait_caught_up()
        config = StackConfig(
            port=free_port(),
            simulator_port=free_port(),
            env=env,
            log_dir=tmp_path_factory.mktemp("replica-logs"),
            ready_timeout=90,
        )
        with Stack(config) as running:
            yield running
    finally:
        pg_pair.replay_resume()
        redis.stop()


@pytest.fixture(scope="module")
def shown(replica_stack: Stack, pg_pair) -> Shown:
    """A one-variant product on the first page of its category, with its URLs."""
    with psycopg.connect(pg_pair.primary_url) as primary:
        rows = primary.execute(
            "SELECT p.slug, p.name, c.slug, v.sku, v.id FROM catalog_product p "
            "JOIN catalog_category c ON c.id = p.category_id "
            "JOIN catalog_variant v ON v.product_id = p.id "
            "WHERE (SELECT count(*) FROM catalog_variant w WHERE w.product_id = p.id) = 1 "
            "ORDER BY p.id"
        ).fetchall()
    base = replica_stack.config.base_url
    for slug, name, category, sku, variant_id in rows:
        if f"/p/{slug}/" in http("GET", f"{base}/c/{category}/").body:
            word = name.split()[0]
            urls = (
                f"/p/{slug}/",
                f"/c/{category}/",
                f"/api/v1/products/{slug}/",
                f"/search/?q={word}",
                f"/api/v1/search/?q={word}",
            )
            return Shown(sku=sku, variant_id=variant_id, urls=urls)
    pytest.fail("no one-variant product is on the first page of its category")


def _metrics(base_url: str) -> dict[tuple[str, tuple], float]:
    answer = http("GET", f"{base_url}/metrics")
    assert answer.status == 200, answer.body
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.body)
        for sample in family.samples
    }


def _routed(metrics: dict, target: str, reason: str) -> float:
    labels = (("reason", reason), ("target", target))
    return metrics.get(("peakstore_db_reads_routed_total", labels), 0.0)


def _in_rotation(base_url: str) -> float:
    metrics = _metrics(base_url)
    return metrics[("peakstore_db_replica_in_rotation", (("alias", "replica_0"),))]


def _price_set(base_url: str, sku: str) -> str:
    amount = f"{700 + next(_prices)}.{next(_prices) % 90 + 10}"
    answer = http(
        "PUT",
        f"{base_url}/backoffice/v1/prices/{sku}",
        payload={"amount": amount},
        headers={"Authorization": f"Bearer {BACKOFFICE_TOKEN}"},
    )
    assert answer.status == 200, answer.body
    return amount


def _stale_urls(base_url: str, shown: Shown, *, new: str, old: str) -> list[str]:
    """The URLs that do not show `new`, or still show `old`."""
    stale = []
    for url in shown.urls:
        answer = http("GET", f"{base_url}{url}")
        assert answer.status == 200, f"{url}: {answer.status} {answer.body[:300]}"
        if new not in answer.body or re.search(re.escape(old) + r"(?!\d)", answer.body):
            stale.append(url)
    return stale


def _replica_price(pg_pair, variant_id: int) -> str:
    with psycopg.connect(pg_pair.standby_url) as standby:
        row = standby.execute(
            "SELECT p.amount FROM pricing_price p "
            "JOIN pricing_pricelist l ON l.id = p.price_list_id "
            "WHERE p.variant_id = %s AND l.code = 'base'",
            [variant_id],
        ).fetchone()
    return f"{row[0]:.2f}"


def _wait_rotation(base_url: str, value: float) -> float:
    """Poll /metrics until the replica's rotation gauge reads `value`; seconds it took."""
    started = time.monotonic()
    while _in_rotation(base_url) != value:
        assert time.monotonic() - started < ROTATION_TIMEOUT_S, f"rotation never read {value}"
        time.sleep(0.2)
    return time.monotonic() - started


def _settled(stack: Stack, pg_pair) -> None:
    """The standby has replayed everything and the stack's readings say so."""
    pg_pair.wait_caught_up()
    _wait_rotation(stack.config.base_url, 1)
    time.sleep(CHECK_INTERVAL_S * 2)  # every process's reading is past the last fence


def test_catalog_pages_are_read_from_the_replica(replica_stack: Stack, pg_pair, shown: Shown):
    # Given a standby that has replayed everything
    _settled(replica_stack, pg_pair)
    before = _metrics(replica_stack.config.base_url)

    # When cold catalog pages and API reads are served
    for url in shown.urls:
        assert http("GET", f"{replica_stack.config.base_url}{url}").status == 200

    # Then their reads went to the replica
    after = _metrics(replica_stack.config.base_url)
    assert _routed(after, "replica", "replica") > _routed(before, "replica", "replica")
    # And the per-request query tally counted them (the N+1 gates read it)
    assert _queries(after, "pages:product") > _queries(before, "pages:product")


def _queries(metrics: dict, route: str) -> float:
    return sum(
        value
        for (name, labels), value in metrics.items()
        if name == "peakstore_http_request_queries_total" and ("route", route) in labels
    )


def test_write_then_read_every_page_and_endpoint_is_never_stale(
    replica_stack: Stack, pg_pair, shown: Shown
):
    base = replica_stack.config.base_url
    old = _price_set(base, shown.sku)
    _settled(replica_stack, pg_pair)
    for _ in range(3):
        # When the price changes, and every page showing it is read at once
        new = _price_set(base, shown.sku)
        # Then each shows the new price, never the old one
        assert _stale_urls(base, shown, new=new, old=old) == []
        old = new

    # And checkout reads its own writes: the order is there the moment it is placed
    placed = order_post(base, cart_with(base, shown.sku))
    assert placed.status == 201, placed.body
    number = placed.json()["number"]
    order = http("GET", f"{base}/api/v1/orders/{number}/", headers=_order_headers(placed))
    assert order.status == 200, order.body


def _order_headers(placed: Answer) -> dict[str, str]:
    token = placed.json().get("token")
    return {"X-Order-Token": token} if token else {}


def test_paused_replay_serves_no_stale_price_and_the_replica_leaves_rotation(
    replica_stack: Stack, pg_pair, shown: Shown
):
    base = replica_stack.config.base_url
    old = _price_set(base, shown.sku)
    _settled(replica_stack, pg_pair)
    for url in shown.urls:  # warm every page from the replica
        http("GET", f"{base}{url}")

    # Given a standby that stops replaying
    pg_pair.replay_pause()
    try:
        before = _metrics(base)
        # When the price changes
        new = _price_set(base, shown.sku)

        # Then the standby still holds the old price, and no page shows it
        assert _replica_price(pg_pair, shown.variant_id) == old
        assert _stale_urls(base, shown, new=new, old=old) == []
        during = _metrics(base)
        kept_off = sum(
            _routed(during, "primary", reason) - _routed(before, "primary", reason)
            for reason in ("fenced", "lagging")
        )
        assert kept_off > 0, "no read was kept off the paused replica"

        # And once its lag passes the limit, it leaves rotation; pages stay correct
        _wait_rotation(base, 0)
        assert _stale_urls(base, shown, new=new, old=old) == []
    finally:
        pg_pair.replay_resume()

    # And once it has caught up, it comes back and serves the new price
    _wait_rotation(base, 1)
    assert _replica_price(pg_pair, shown.variant_id) == new
    assert _stale_urls(base, shown, new=new, old=old) == []
