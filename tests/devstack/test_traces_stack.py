"""One trace across processes: a sampled checkout through web, Celery and the simulator.

A stack of its own with every trace sampled (PEAKSTORE_TRACING_SAMPLE=1), so the order's
trace is kept in each process that takes part; they all write the stack's ring file.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.processes import Stack, StackConfig, free_port
from storefront.settings.environment import TRACE_RING_FILE
from tests.devstack.conftest import cart_with, order_post
from toolkit.tracing.ring import SpanRecord, TraceRing


@pytest.fixture(scope="module")
def traced_stack(
    stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    config = StackConfig(
        port=free_port(),
        simulator_port=free_port(),
        env={**stack_env, "PEAKSTORE_TRACING": "1", "PEAKSTORE_TRACING_SAMPLE": "1"},
        log_dir=tmp_path_factory.mktemp("traced-stack-logs"),
        ready_timeout=90,
    )
    with Stack(config) as running:
        yield running


def test_a_sampled_checkout_is_one_trace_across_web_worker_and_simulator(
    traced_stack, store_catalog, stack_env
):
    sku = next(sku for product in store_catalog["products"] for sku in product["skus"])
    base = traced_stack.config.base_url

    order = order_post(base, cart_with(base, sku))

    assert order.status == 201, order.body
    ring = TraceRing(Path(stack_env["PEAKSTORE_VAR_DIR"]) / TRACE_RING_FILE)
    deadline = time.monotonic() + 60
    spans: list[SpanRecord] = []
    while time.monotonic() < deadline and not _delivered_to_erp(spans):
        time.sleep(0.5)
        orders = [trace for trace in ring.recent(limit=200) if trace.route == "api:order-list"]
        spans = ring.spans(orders[0].trace_id) if orders else []

    # One trace: the web request published the delivery task, the worker ran it, and
    # the worker's call to the ERP is the simulator's answer's parent. Walked up from
    # the ERP's answer: the order publishes more than one outbox task, run in any order.
    by_id = {span.span_id: span for span in spans}
    erp = next(span for span in spans if span.service == "simulator" and span.name == "POST erp")
    ancestors = []
    span = erp
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        ancestors.append(span)
    assert ancestors[0].service == "peakstore-worker"
    delivery = next(span for span in ancestors if span.name.startswith("run/checkout.outbox"))
    publish = by_id[delivery.parent_id]
    assert delivery.service == "peakstore-worker"
    assert publish.name.startswith("apply_async/checkout.outbox")
    assert publish.service == "peakstore-web"
    assert ancestors[-1].service == "peakstore-web"  # the order request itself
    assert {span.service for span in spans} == {"peakstore-web", "peakstore-worker", "simulator"}


def _delivered_to_erp(spans: list[SpanRecord]) -> bool:
    return any(span.service == "simulator" and span.name == "POST erp" for span in spans)
