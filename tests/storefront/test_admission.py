"""Admission control: past saturation, bots and deep pages go first, checkout never."""

import socket
import sys

import pytest
from prometheus_client import REGISTRY

from storefront import admission

BOT = {"HTTP_USER_AGENT": "HoardBot/1.0 (+https://example.com/bot)"}


@pytest.fixture(autouse=True)
def _limits(settings):
    """Fixed limits, so the tests read against them rather than the tuned defaults."""
    settings.STOREFRONT_ADMISSION_QUEUE_LIMITS = {"bot": 1.0, "deep_browse": 2.0, "browse": 4.0}


@pytest.fixture
def queue_depth(monkeypatch):
    """Set the accept-queue length per worker that admission control sees."""

    def set_depth(depth: float) -> None:
        monkeypatch.setattr(admission.LISTEN_QUEUE, "depth_per_worker", lambda: depth)

    return set_depth


def _shed_count(route_class: str) -> float:
    value = REGISTRY.get_sample_value("peakstore_requests_shed_total", {"route_class": route_class})
    return value or 0.0


def test_nothing_is_shed_below_saturation(client, product, queue_depth):
    queue_depth(0.0)

    assert client.get("/", **BOT).status_code == 200
    assert client.get("/c/outdoor/?page=9").status_code != 503


def test_bots_are_shed_first(client, product, queue_depth):
    # given a queue past the bots' limit but within everyone else's
    queue_depth(1.0)
    before = _shed_count("bot")

    # when a bot and a shopper ask for the same page
    bot = client.get("/p/trail-runner/", **BOT)
    shopper = client.get("/p/trail-runner/")

    # then the bot is refused at once, counted as shed, and the shopper served
    assert bot.status_code == 503
    assert bot["Retry-After"] == "2"
    assert bot[admission.SHED_HEADER] == "bot"
    assert _shed_count("bot") == before + 1
    assert shopper.status_code == 200


def test_deep_browse_is_shed_before_ordinary_browse(client, product, queue_depth):
    queue_depth(2.0)

    deep = client.get("/c/outdoor/?page=5")
    first_page = client.get("/c/outdoor/")

    assert deep.status_code == 503
    assert deep[admission.SHED_HEADER] == "deep_browse"
    assert first_page.status_code == 200


def test_checkout_keeps_its_capacity_when_browse_is_shed(client, sku, queue_depth):
    # given a queue so long that even ordinary browsing is shed
    queue_depth(50.0)
    assert client.get("/")[admission.SHED_HEADER] == "browse"

    # when a buyer creates a cart, adds a line and orders through the API
    cart = client.post("/api/v1/carts/", {}, content_type="application/json")
    token = cart.json()["token"]
    line = client.post(
        f"/api/v1/carts/{token}/lines/",
        {"sku": sku, "quantity": 1},
        content_type="application/json",
    )
    checkout_page = client.get("/checkout/")

    # then none of it is shed
    assert cart.status_code == 201
    assert line.status_code == 201
    assert checkout_page.status_code != 503
    assert client.get("/healthz").status_code == 200


def test_a_shed_request_runs_no_query(client, product, queue_depth, django_assert_num_queries):
    queue_depth(50.0)

    with django_assert_num_queries(0):
        response = client.get("/c/outdoor/?page=2")

    assert response.status_code == 503
    assert "sessionid" not in response.cookies


def test_api_requests_are_shed_with_the_error_shape(client, product, queue_depth):
    queue_depth(50.0)

    response = client.get("/api/v1/products/")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "overloaded"


def test_admission_control_can_be_switched_off(client, product, queue_depth, settings):
    settings.STOREFRONT_ADMISSION_ENABLED = False
    queue_depth(50.0)

    assert client.get("/", **BOT).status_code == 200


@pytest.mark.skipif(sys.platform != "linux", reason="the accept queue is read with TCP_INFO")
def test_listen_queue_counts_connections_waiting_for_a_worker():
    # given a listening socket nobody accepts from, and three clients connected to it
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        queue = admission.ListenQueue()
        queue.adopt([listener], workers=2)
        assert queue.depth_per_worker() == 0.0
        clients = [socket.create_connection(listener.getsockname()) for _ in range(3)]
        try:
            # then they wait in its accept queue: 1.5 per worker for two workers
            assert queue.depth_per_worker() == 1.5
        finally:
            for client in clients:
                client.close()


def test_without_a_listener_the_queue_is_empty():
    assert admission.ListenQueue().depth_per_worker() == 0.0
