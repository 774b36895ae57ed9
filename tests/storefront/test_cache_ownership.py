"""Every key the store writes to the cache server has an owner in the registry.

A representative day in one test: every public page and API read, a cart and an order,
the probes, the ops dashboard, the degradable clients live and failing, a breaker that
opens, and every periodic task. Then the cache audit (the same code as `cache_audit`,
which lists the key space with `toolkit.cache.store.iter_keys`) must find no key that
no namespace or shared state declares: a key written around the registry fails here.
"""

from django.conf import settings
from rest_framework.test import APIClient

from integrations.interface import reviews_for_product, shipping_rates, tax_rate
from storefront.celery import app as celery_app
from tests.storefront.api.test_orders import order_body, place
from toolkit.cache.audit import cache_audit

PAGES = (
    "/",
    "/c/outdoor/",
    "/p/trail-runner/",
    "/search/?q=trail",
    "/sitemap.xml",
    "/robots.txt",
    "/cart/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/products/",
    "/api/v1/products/trail-runner/",
    "/api/v1/categories/",
    "/api/v1/search/?q=trail",
)


def _visit_and_buy(client, sku):
    for url in PAGES:
        assert client.get(url).status_code == 200, url
    api = APIClient()
    token = api.post("/api/v1/carts/").json()["token"]
    line = {"sku": sku, "quantity": 1}
    assert api.post(f"/api/v1/carts/{token}/lines/", line, format="json").status_code == 201
    placed = place(api, order_body(token))
    assert placed.status_code == 201, placed.content


def _look_at_ops(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/ops/").status_code == 200
    client.logout()


def _degrade(simulator):
    """Remember the degradable answers, then fail an optional dependency until its
    breaker opens."""
    tax_rate(country="DE", postal_code="10115")
    shipping_rates(country="DE")
    simulator.set_fault("reviews", down=True)
    for _ in range(6):
        reviews_for_product(slug="trail-runner")


def _run_periodic_tasks():
    celery_app.loader.import_default_modules()  # the apps' tasks modules, as a worker does
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        task = celery_app.tasks[entry["task"]]
        task.apply(args=entry.get("args", ())).get(propagate=True)


def test_the_store_writes_no_cache_key_that_no_declaration_owns(
    client, sku, admin_user, upstream_simulator
):
    # given a representative spell of traffic and background work
    _visit_and_buy(client, sku)
    _look_at_ops(client, admin_user)
    _degrade(upstream_simulator)
    _run_periodic_tasks()

    # when the audit lists the key space
    report = cache_audit(sample=0)

    # then every key belongs to a declared namespace or shared state
    assert report.unowned == []
    # and the traffic did reach the state this test is about (it cannot pass empty)
    states = {state.prefix: state.keys for state in report.states}
    for prefix in (
        "ops:",
        "integrations:tax:last:",
        "integrations:shipping:last:",
        "integrations:breaker:",
    ):
        assert states[prefix] >= 1, prefix
    assert sum(audit.entries for audit in report.namespaces) >= 5
