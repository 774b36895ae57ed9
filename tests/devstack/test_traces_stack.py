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
from toolkit.tracing.ring import TraceRing


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
    wanted = {"peakstore-web", "peakstore-worker", "simulator"}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        orders = [trace for trace in ring.recent(limit=200) if trace.route == "api:order-list"]
        if any(wanted <= set(trace.services) for trace in orders):
            break
        time.sleep(0.5)
    (trace,) = [trace for trace in orders if wanted <= set(trace.services)]
    spans = ring.spans(trace.trace_id)
    names = {span.name for span in spans}
    assert any(name.startswith("run/checkout.") for name in names), names
    assert any(name.startswith("apply_async/checkout.") for name in names), names
    # The worker's run continues the web request's publish; the simulator, the worker's call.
    by_id = {span.span_id: span for span in spans}
    delivery = next(span for span in spans if span.name.startswith("run/checkout.outbox"))
    assert by_id[delivery.parent_id].service == "peakstore-web"
    simulated = [span for span in spans if span.service == "simulator"]
    assert any(
        by_id.get(span.parent_id) and by_id[span.parent_id].service == "peakstore-worker"
        for span in simulated
    )
