"""A real stack (gunicorn + Celery worker) on a free port, with a store of its own.

Embedded profile: a fresh SQLite file under a temporary PEAKSTORE_VAR_DIR. Services
profile (DATABASE_URL set, as in CI): a throwaway PostgreSQL database, dropped afterwards,
and a Redis key prefix and a Celery queue of its own, so the stack never shares state
with a demo or another test run on the same servers.
"""

import json
import os
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from devstack.processes import Stack, StackConfig, free_port, loopback_open
from loadtests.identity import client_headers
from storefront.settings.environment import BASE_DIR
from tests.conftest import IN_CI

SEED_PRODUCTS = 50
# The stacks' load-generator key: every request `http` sends is a shopper of its own, so
# the store's per-client throttles (tested in tests/storefront/test_throttling.py) never
# refuse these tests, which all come from 127.0.0.1.
LOADGEN_KEY = uuid.uuid4().hex
SERVICE_PORTS = {"DATABASE_URL": 5432, "REDIS_URL": 6379, "CELERY_BROKER_URL": 5672}


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or default_port)
    try:
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


def require_services() -> None:
    """Skip outside CI when a service the environment names is down; in CI, fail."""
    down = [
        name
        for name, port in SERVICE_PORTS.items()
        if os.environ.get(name) and not _reachable(os.environ[name], port)
    ]
    if down:
        reason = f"services not answering: {', '.join(down)}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


@contextmanager
def throwaway_postgres(database_url: str) -> Iterator[str]:
    """Create an empty database beside the one `database_url` names; drop it afterwards."""
    name = f"peakstore_stack_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
        finally:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin.execute(drop.format(sql.Identifier(name)))


def _queue_delete(broker_url: str, queue: str) -> None:
    from kombu import Connection

    # Best effort: a leftover empty queue on a shared broker is untidy, not wrong.
    with Connection(broker_url, connect_timeout=5) as connection, suppress(Exception):
        connection.default_channel.queue_delete(queue)


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Run a manage.py command in the stack's environment; return its output."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "storefront.settings", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


@dataclass(frozen=True)
class Answer:
    status: int
    body: str

    def json(self) -> dict:
        return json.loads(self.body)


def http(
    method: str, url: str, *, payload: dict | None = None, headers: dict | None = None
) -> Answer:
    """One HTTP request on loopback; HTTP errors are answers, not exceptions."""
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {**client_headers(uuid.uuid4().hex, LOADGEN_KEY), **(headers or {})}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with loopback_open(request, timeout=30) as response:
            return Answer(response.status, response.read().decode())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read().decode(errors="replace"))


BUYER_ADDRESS = {
    "name": "Ada Stack",
    "line1": "1 Loopback Road",
    "city": "Localhost",
    "postal_code": "12345",
    "country": "DE",
}


def cart_with(base_url: str, sku: str) -> str:
    """A new cart holding one unit of `sku`, through the API; its token."""
    cart = http("POST", f"{base_url}/api/v1/carts/", payload={})
    assert cart.status == 201, cart.body
    token = cart.json()["token"]
    line = http(
        "POST", f"{base_url}/api/v1/carts/{token}/lines/", payload={"sku": sku, "quantity": 1}
    )
    assert line.status == 201, line.body
    return token


def order_post(base_url: str, cart: str) -> Answer:
    """Check the cart out with a good card, under a fresh Idempotency-Key."""
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
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a stack with its own migrated store of SEED_PRODUCTS products."""
    require_services()
    token = uuid.uuid4().hex[:10]
    env = {
        "PEAKSTORE_VAR_DIR": str(tmp_path_factory.mktemp("stack-var")),
        "PEAKSTORE_CELERY_QUEUE": f"peakstore-stack-{token}",
        "PEAKSTORE_CACHE_KEY_PREFIX": f"peakstore-stack-{token}",
        # These tests push concurrency through the workers on purpose to find errors;
        # shedding would hide them. Admission control has its own tests.
        "PEAKSTORE_ADMISSION": "0",
        "PEAKSTORE_LOADGEN_KEY": LOADGEN_KEY,
        # The tests parse the processes' logs as JSON, whatever a developer exported.
        "PEAKSTORE_LOG_FORMAT": "json",
    }
    with ExitStack() as cleanup:
        if database_url := os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = cleanup.enter_context(throwaway_postgres(database_url))
        if broker_url := os.environ.get("CELERY_BROKER_URL"):
            cleanup.callback(_queue_delete, broker_url, env["PEAKSTORE_CELERY_QUEUE"])
        manage(env, "migrate", "--noinput")
        manage(env, "seed_store", "--products", str(SEED_PRODUCTS), "--seed", "7")
        yield env


@pytest.fixture(scope="module")
def store_catalog(stack_env: dict[str, str]) -> dict:
    """The stack's catalog snapshot, as the load-test runner writes it."""
    code = (
        "import json; from devstack.snapshot import catalog_snapshot; "
        "print(json.dumps(catalog_snapshot()))"
    )
    return json.loads(manage(stack_env, "shell", "--no-imports", "-c", code))


@pytest.fixture(scope="module")
def stack(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = StackConfig(
        port=free_port(),
        simulator_port=free_port(),
        env=stack_env,
        log_dir=tmp_path_factory.mktemp("stack-logs"),
        ready_timeout=90,
    )
    with Stack(config) as running:
        yield running
