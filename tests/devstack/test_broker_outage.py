"""A broker and cache outage in the middle of a run: a real stack on a Redis of its own.

The stack's Celery broker and (on the services profile) its cache are a private
`redis-server` on a free loopback port, which the test stops and starts again; the
machine's shared Redis and RabbitMQ are never touched. While it is down, paid orders
answer 201 quickly and pages 200; once it is back, the outbox sweep (Celery beat)
delivers every side effect the requests could not queue, and the order audit is clean.

The Celery worker runs under a supervisor of its own here, which starts it again if it
exited, as systemd or Kubernetes would: Celery 5.7's worker exits ("Unrecoverable error:
AttributeError ... 'hostname'") when a Redis broker drops while it holds unacknowledged
messages, which with late acks is any task in flight. Nothing is lost when it does: the
message stays in the broker's unacked set, and the outbox sweep delivers regardless.
"""

import json
import shutil
import socket
import subprocess
import time
from dataclasses import replace

import pytest

from devstack.processes import (
    Stack,
    StackConfig,
    StackError,
    free_port,
    stack_processes,
    worker_process,
)
from tests.conftest import IN_CI
from tests.devstack.conftest import Answer, cart_with, http, manage, order_post

pytestmark = pytest.mark.stack

# A checkout with the broker down costs one refused connection per publish, not retries.
CHECKOUT_BOUND_S = 5.0
# Beat runs the sweep every 30 s, for messages older than 30 s: two rounds and change.
REDELIVERY_TIMEOUT_S = 150.0


def _redis_server() -> str:
    path = shutil.which("redis-server")
    if path is None:
        reason = "redis-server is not installed (apt-get install -y redis-server)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return path


class PrivateRedis:
    """A throwaway redis-server on 127.0.0.1:`port`, nothing saved, that a test may stop
    and start again on the same port."""

    def __init__(self, executable: str, port: int) -> None:
        self.argv = [executable, "--port", str(port), "--bind", "127.0.0.1"]
        self.argv += ["--save", "", "--appendonly", "no"]
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_until(lambda: _answers(self.port), timeout=10, what=f"redis on {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_until(condition, *, timeout: float, what: str, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _checkout(base_url: str, sku: str) -> tuple[Answer, float]:
    """Create a cart, add `sku`, pay with a good card; the order answer and its seconds."""
    cart = cart_with(base_url, sku)
    started = time.monotonic()
    order = order_post(base_url, cart)
    return order, time.monotonic() - started


def _outbox(env: dict[str, str]) -> dict[str, int]:
    code = (
        "import json; from checkout.models import OutboxMessage as M; "
        "print(json.dumps({'total': M.objects.count(), "
        "'undelivered': M.objects.filter(delivered_at__isnull=True).count()}))"
    )
    return json.loads(manage(env, "shell", "--no-imports", "-c", code).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def private_redis_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def outage_env(stack_env: dict[str, str], private_redis_port: int) -> dict[str, str]:
    """The stack's environment with its broker, and its cache, on the private Redis."""
    return {
        **stack_env,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{private_redis_port}/0",
        "REDIS_URL": f"redis://127.0.0.1:{private_redis_port}/1",
    }


def _supervised(worker: Stack) -> None:
    """Start the worker again if it exited, as a process supervisor would."""
    try:
        worker.check_alive()
    except StackError:
        worker.stop()
        worker.start()


def test_paid_orders_survive_a_broker_outage_and_are_delivered_after_it(
    outage_env, private_redis_port, store_catalog, tmp_path
):
    redis_server = _redis_server()
    skus = [sku for product in store_catalog["products"] for sku in product["skus"]]
    slugs = [product["slug"] for product in store_catalog["products"]]
    config = StackConfig(
        port=free_port(),
        simulator_port=free_port(),
        env=outage_env,
        log_dir=tmp_path,
        ready_timeout=90,
    )
    # The worker apart, with metrics of its own (a stack starts by clearing its folder).
    worker_config = replace(
        config, env={**outage_env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "worker-metrics")}
    )
    others = tuple(spec for spec in stack_processes(config) if spec.name != "worker")
    base = config.base_url
    broker = PrivateRedis(redis_server, private_redis_port)
    broker.start()
    try:
        worker_only = (worker_process(worker_config),)
        with Stack(config, others), Stack(worker_config, worker_only) as worker:
            # given a stack that takes orders with its broker up
            before, _ = _checkout(base, skus[0])
            assert before.status == 201, before.body

            # when the broker (and cache) stops mid-run
            broker.stop()
            assert not _answers(private_redis_port)
            during = [_checkout(base, sku) for sku in skus[1:4]]
            pages = [http("GET", f"{base}{path}") for path in ("/", f"/p/{slugs[1]}/")]

            # then paid orders are answered 201, quickly, and pages 200
            for order, seconds in during:
                assert order.status == 201, order.body
                assert order.json()["status"] == "paid"
                assert seconds < CHECKOUT_BOUND_S, f"checkout took {seconds:.1f}s"
            assert [page.status for page in pages] == [200, 200]
            assert _outbox(outage_env)["undelivered"] >= 2 * len(during)

            # and once the broker is back, the sweep delivers everything
            broker.start()
            _supervised(worker)
            _wait_until(
                lambda: _outbox(outage_env)["undelivered"] == 0,
                timeout=REDELIVERY_TIMEOUT_S,
                interval=5,
                what="the outbox sweep to deliver what the outage left",
            )
            assert _outbox(outage_env)["total"] == 2 * (1 + len(during))
            assert "order audit clean" in manage(outage_env, "audit_orders")
    finally:
        broker.stop()
