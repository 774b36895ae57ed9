"""Metrics across real processes: two gunicorn workers and a Celery worker share one view.

prometheus_client's multiprocess mode is what makes a scrape (answered by one worker)
count every worker's requests; this boots the real stack and proves it, with the funnel
of a real purchase and the request id in the Celery worker's log.
"""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.devstack.conftest import http

pytestmark = pytest.mark.stack
ADDRESS = {
    "name": "Ada",
    "line1": "1 Loopback Road",
    "city": "Localhost",
    "postal_code": "12345",
    "country": "DE",
}


def scrape(base_url: str) -> dict[tuple[str, tuple], float]:
    answer = http("GET", f"{base_url}/metrics")
    assert answer.status == 200, answer.body[:500]
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.body)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_scrape_counts_the_requests_of_both_web_workers(stack, store_catalog):
    base = stack.config.base_url
    slug = store_catalog["products"][0]["slug"]
    before = scrape(base)

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: http("GET", f"{base}/p/{slug}/").status, range(60)))
    assert statuses == [200] * 60

    after = scrape(base)
    count = "peakstore_http_request_duration_seconds_count"
    labels = {"route": "pages:product", "method": "GET"}
    assert value(after, count, **labels) - value(before, count, **labels) == 60
    responses = "peakstore_http_responses_total"
    assert (
        value(after, responses, **labels, status="2xx")
        - value(before, responses, **labels, status="2xx")
        == 60
    )
    # Both workers wrote samples: one histogram file per process that observed one.
    writers = {path.name for path in stack.config.metrics_dir.glob("histogram_*.db")}
    assert len(writers) >= 2, writers
    assert value(after, "peakstore_http_requests_in_flight") == 1  # the scrape itself
    assert value(after, "peakstore_celery_broker_up") == 1


def test_a_purchase_counts_once_and_its_request_id_reaches_the_worker_log(stack, store_catalog):
    base = stack.config.base_url
    sku = next(sku for product in store_catalog["products"] for sku in product["skus"])
    request_id = f"it-{uuid.uuid4().hex[:12]}"
    before = scrape(base)

    token = http("POST", f"{base}/api/v1/carts/", payload={}).json()["token"]
    http("POST", f"{base}/api/v1/carts/{token}/lines/", payload={"sku": sku, "quantity": 1})
    body = {
        "cart": token,
        "email": "ada@example.com",
        "shipping_address": ADDRESS,
        "shipping_method": "standard",
        "payment_token": "tok_ok",
    }
    headers = {"Idempotency-Key": str(uuid.uuid4()), "X-Request-ID": request_id}
    first = http("POST", f"{base}/api/v1/orders/", payload=body, headers=headers)
    replay = http("POST", f"{base}/api/v1/orders/", payload=body, headers=headers)

    assert first.status == 201, first.body
    assert replay.json()["number"] == first.json()["number"]
    after = scrape(base)
    funnel = "peakstore_checkout_funnel_total"
    for step in (
        "cart_created",
        "line_added",
        "checkout_started",
        "order_placed",
        "order_completed",
    ):
        assert value(after, funnel, step=step) - value(before, funnel, step=step) == 1, step

    # The order's outbox tasks were published inside the request: the worker logs them
    # (JSON, one object per line) under the request's id.
    worker_log = stack.log_path("worker")
    deadline_lines = _wait_for_request_id(worker_log, request_id)
    assert deadline_lines, f"{request_id} not in {worker_log}"
    assert all(line["request_id"] == request_id for line in deadline_lines)


def _wait_for_request_id(log_path, request_id: str, timeout: float = 30.0) -> list[dict]:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = []
        for raw in log_path.read_text(errors="replace").splitlines():
            if request_id in raw and raw.startswith("{"):
                lines.append(json.loads(raw))
        if lines:
            return lines
        time.sleep(0.25)
    return []
