"""Admission control: shed by expected wait; bots and deep pages first, checkout never."""

import socket
import sys
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from storefront import admission, gunicorn_conf

BOT = {"HTTP_USER_AGENT": "HoardBot/1.0 (+https://example.com/bot)"}


class FakeQueue:
    """An accept queue of a fixed depth per worker that counts how often it is read."""

    def __init__(self, depth: float) -> None:
        self.depth = depth
        self.reads = 0

    def depth_per_worker(self) -> float:
        self.reads += 1
        return self.depth


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _serve(estimate: admission.ExpectedWait, clock: FakeClock, *, seconds: float) -> float:
    """Serve one request as a gunicorn worker does; return the standing wait it met."""
    estimate.request_started()
    standing = estimate.standing()
    clock.now += seconds
    estimate.request_finished()
    return standing


@pytest.fixture(autouse=True)
def _budgets(settings):
    """Fixed budgets, so the tests read against them rather than the tuned defaults."""
    settings.STOREFRONT_ADMISSION_BUDGETS = {"bot": 0.05, "deep_browse": 0.1, "browse": 0.2}


@pytest.fixture
def queue(monkeypatch):
    """Set what admission control sees: connections waiting per worker, service time."""

    def set_queue(*, depth: float, service_s: float) -> None:
        clock = FakeClock()
        estimate = admission.ExpectedWait(FakeQueue(depth), clock=clock)
        # The worker has served such requests for two intervals: the wait has stood.
        until = clock.now + 2 * admission.STANDING_INTERVAL_S
        while clock.now <= until:
            _serve(estimate, clock, seconds=service_s)
        monkeypatch.setattr(admission, "EXPECTED_WAIT", estimate)

    return set_queue


def _shed_count(route_class: str) -> float:
    value = REGISTRY.get_sample_value("peakstore_requests_shed_total", {"route_class": route_class})
    return value or 0.0


def test_nothing_is_shed_when_no_connection_waits(client, product, queue):
    queue(depth=0.0, service_s=5.0)

    assert client.get("/", **BOT).status_code == 200
    assert client.get("/c/outdoor/?page=9").status_code != 503


def test_a_deep_queue_of_cheap_requests_is_not_shed(client, product, queue):
    # given 64 connections on 2 workers answered from the page cache: 31 waiting per
    # worker, a millisecond each, so a newcomer waits about 31 ms
    queue(depth=31.0, service_s=0.001)

    # when a shopper, a reader of page 9 and a bot ask
    shopper = client.get("/c/outdoor/")
    deep = client.get("/c/outdoor/?page=9")
    bot = client.get("/p/trail-runner/", **BOT)

    # then every one is served: the wait is within even the bots' 50 ms
    assert shopper.status_code == 200
    assert deep.status_code != 503
    assert bot.status_code == 200


def test_the_same_queue_of_slow_requests_is_shed(client, product, queue):
    # given only 7 waiting per worker, but each takes 100 ms: a 700 ms wait
    queue(depth=7.0, service_s=0.1)

    response = client.get("/c/outdoor/")

    assert response.status_code == 503
    assert response[admission.SHED_HEADER] == "browse"


def test_bots_are_shed_first(client, product, queue):
    # given a 60 ms wait: past the bots' budget, within everyone else's
    queue(depth=3.0, service_s=0.02)
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


def test_deep_browse_is_shed_before_ordinary_browse(client, product, queue):
    queue(depth=3.0, service_s=0.05)  # 150 ms

    deep = client.get("/c/outdoor/?page=5")
    first_page = client.get("/c/outdoor/")

    assert deep.status_code == 503
    assert deep[admission.SHED_HEADER] == "deep_browse"
    assert first_page.status_code == 200


def test_checkout_keeps_its_capacity_when_browse_is_shed(client, sku, queue):
    # given a wait so long that even ordinary browsing is shed
    queue(depth=10.0, service_s=0.1)
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


def test_a_budget_cannot_make_critical_routes_sheddable(client, db, settings):
    settings.STOREFRONT_ADMISSION_BUDGETS = {"browse": 0.2, "critical": 1.0}

    with pytest.raises(ImproperlyConfigured, match="critical"):
        client.get("/healthz")


def test_a_shed_request_runs_no_query(client, product, queue, django_assert_num_queries):
    queue(depth=10.0, service_s=0.1)

    with django_assert_num_queries(0):
        response = client.get("/c/outdoor/?page=2")

    assert response.status_code == 503
    assert "sessionid" not in response.cookies


def test_a_shed_request_is_not_logged_as_a_server_error(client, product, queue, caplog):
    # given a wait past the browse budget: a campaign spike sheds hundreds a second
    queue(depth=7.0, service_s=0.1)

    with caplog.at_level("WARNING", logger="django.request"):
        response = client.get("/c/outdoor/")

    # then it is counted and marked, not logged by Django as an error per refusal
    assert response.status_code == 503
    assert [r for r in caplog.records if r.name == "django.request"] == []


def test_api_requests_are_shed_with_the_error_shape(client, product, queue):
    queue(depth=10.0, service_s=0.1)

    response = client.get("/api/v1/products/")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "overloaded"


def test_admission_control_can_be_switched_off(client, product, queue, settings):
    settings.STOREFRONT_ADMISSION_ENABLED = False
    queue(depth=10.0, service_s=0.1)

    assert client.get("/", **BOT).status_code == 200


def test_the_expected_wait_and_the_budgets_are_exported(client, db, queue):
    # given 30 waiting per worker at 2 ms each
    queue(depth=30.0, service_s=0.002)

    # when a page is asked for and /metrics scraped
    client.get("/")
    body = client.get("/metrics").content.decode()

    # then the estimate and each class's budget are in the exposition
    samples = {
        (sample.name, sample.labels.get("route_class")): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    assert samples[("peakstore_admission_expected_wait_seconds", None)] == pytest.approx(0.06)
    assert samples[("peakstore_admission_budget_seconds", "bot")] == 0.05
    assert samples[("peakstore_admission_budget_seconds", "deep_browse")] == 0.1
    assert samples[("peakstore_admission_budget_seconds", "browse")] == 0.2


def test_the_expected_wait_is_depth_per_worker_times_recent_service_time():
    clock = FakeClock()
    estimate = admission.ExpectedWait(FakeQueue(10.0), clock=clock)
    # long enough for the wait to stand: three standing intervals of 4 ms requests
    for _ in range(round(3 * admission.STANDING_INTERVAL_S / 0.004)):
        _serve(estimate, clock, seconds=0.004)

    assert estimate.service_s == pytest.approx(0.004)
    assert estimate.standing() == pytest.approx(0.04)


def test_a_rare_slow_request_among_cheap_ones_sheds_nothing():
    # given a worker answering cached pages of a millisecond, 31 waiting per worker
    clock = FakeClock()
    estimate = admission.ExpectedWait(FakeQueue(31.0), clock=clock)
    before = [_serve(estimate, clock, seconds=0.001) for _ in range(500)]

    # when one request takes 300 ms (a cache refill), then cached pages again
    after = [_serve(estimate, clock, seconds=cost) for cost in [0.3] + [0.001] * 500]

    # then no request meets a standing wait past the deep-browse budget
    assert max(before + after) < 0.1


def test_a_burst_of_cheap_requests_after_a_slow_one_is_not_shed():
    # given a fresh worker whose first request rendered a cold page in half a second
    clock = FakeClock()
    estimate = admission.ExpectedWait(FakeQueue(31.0), clock=clock)
    _serve(estimate, clock, seconds=0.49)

    # when 64 connections then ask for cached pages of a millisecond, back to back
    met = [_serve(estimate, clock, seconds=0.001) for _ in range(1000)]

    # then no request meets a standing wait past the browse budget
    assert max(met) < 0.2


def test_an_overload_that_stands_an_interval_is_shed():
    # given requests of 100 ms each, 7 waiting per worker (a 700 ms wait)
    clock = FakeClock()
    estimate = admission.ExpectedWait(FakeQueue(7.0), clock=clock)

    met = [_serve(estimate, clock, seconds=0.1) for _ in range(20)]

    # then the first request, still a burst, met no standing wait; the last ones did
    assert met[0] == 0.0
    assert met[-1] == pytest.approx(0.7)


def test_a_worker_that_waited_for_its_connection_reads_no_queue():
    # given a worker past an overload, then idle for a second
    clock = FakeClock()
    queue = FakeQueue(7.0)
    estimate = admission.ExpectedWait(queue, clock=clock)
    for _ in range(20):
        _serve(estimate, clock, seconds=0.1)
    reads = queue.reads
    clock.now += 1.0

    # when the next connection arrives
    met = _serve(estimate, clock, seconds=0.001)

    # then the queue was empty a moment ago: no system call, and no standing wait
    assert queue.reads == reads
    assert met == 0.0


def test_after_an_idle_spell_a_burst_must_stand_an_interval_again():
    # given a worker that was overloaded, then idle for a second
    clock = FakeClock()
    estimate = admission.ExpectedWait(FakeQueue(7.0), clock=clock)
    for _ in range(20):
        _serve(estimate, clock, seconds=0.1)
    clock.now += 1.0

    # when the same overload comes back
    met = [_serve(estimate, clock, seconds=0.1) for _ in range(10)]

    # then the first requests meet no standing wait: the queue was empty in between
    assert met[:3] == [0.0, 0.0, 0.0]
    assert met[-1] == pytest.approx(0.7)


def test_a_worker_preempted_between_requests_still_sheds():
    # given an overload on a crowded machine, where 5 ms pass between two requests
    clock = FakeClock()
    estimate = admission.ExpectedWait(FakeQueue(7.0), clock=clock)
    met = []
    for _ in range(20):
        met.append(_serve(estimate, clock, seconds=0.1))
        clock.now += 0.005

    # then the gaps are not mistaken for an empty queue
    assert met[-1] == pytest.approx(0.7)


def test_a_worker_shedding_a_deep_queue_keeps_shedding():
    # given a worker overloaded by 100 ms requests, 50 waiting per worker (a 5 s wait)
    clock = FakeClock()
    estimate = admission.ExpectedWait(FakeQueue(50.0), clock=clock)
    for _ in range(20):
        _serve(estimate, clock, seconds=0.1)

    # when it sheds: each refusal takes 0.2 ms within the hooks' timing and 0.4 ms of
    # gunicorn's own work outside it (accept, parse, close)
    met = []
    for _ in range(30):
        met.append(_serve(estimate, clock, seconds=0.0002))
        clock.now += 0.0004

    # then every one of them still meets the standing wait: shedding is not idleness
    assert min(met) > 0.2


def _shed(estimate: admission.ExpectedWait, clock: FakeClock, *, seconds: float) -> bool:
    """Serve one request as `_serve` does; return whether a browse request (0.2 s) is shed."""
    estimate.request_started()
    shed = estimate.sheds(0.2)
    clock.now += seconds
    estimate.request_finished()
    return shed


def _shedding_browse() -> tuple[admission.ExpectedWait, FakeClock, FakeQueue]:
    """A worker overloaded by 50 ms requests, 14 waiting per worker: browse is shed."""
    clock = FakeClock()
    queue = FakeQueue(14.0)
    estimate = admission.ExpectedWait(queue, clock=clock)
    assert [_shed(estimate, clock, seconds=0.05) for _ in range(20)][-1]
    return estimate, clock, queue


def test_a_class_that_sheds_keeps_shedding_through_a_dip_below_its_budget():
    estimate, clock, queue = _shedding_browse()

    # when one reading finds the queue nearly drained (refusals drain it fast), then deep
    queue.depth = 1.0
    in_the_dip = _shed(estimate, clock, seconds=0.05)
    queue.depth = 14.0
    after = [_shed(estimate, clock, seconds=0.05) for _ in range(3)]

    # then the request in the dip is admitted and those after it are shed at once: the
    # overload has stood, and a dip does not make it stand an interval again
    assert not in_the_dip
    assert after == [True, True, True]


def test_a_class_stops_shedding_once_an_interval_passes_without_a_refusal():
    estimate, clock, queue = _shedding_browse()

    # when the wait stays under the budget for longer than an interval, then comes back
    queue.depth = 1.0
    under = [_shed(estimate, clock, seconds=0.05) for _ in range(5)]
    queue.depth = 14.0
    back = [_shed(estimate, clock, seconds=0.05) for _ in range(12)]

    # then the wait must stand an interval again before anything is shed
    assert not any(under)
    assert back[:4] == [False] * 4
    assert back[-1]


def test_a_worker_that_finds_the_queue_empty_stops_shedding():
    estimate, clock, _ = _shedding_browse()

    # when the worker waits 20 ms for its next connection, then the queue is deep again
    clock.now += 0.02
    back = [_shed(estimate, clock, seconds=0.05) for _ in range(12)]

    # then the overload was over: the wait must stand an interval again
    assert back[:4] == [False] * 4
    assert back[-1]


def test_a_reading_of_the_queue_is_reused_within_the_reuse_window():
    clock = FakeClock()
    queue = FakeQueue(2.0)
    estimate = admission.ExpectedWait(queue, clock=clock)

    for _ in range(5):
        estimate.standing()
    clock.now += 2 * admission.DEPTH_REUSE_S
    estimate.standing()

    assert queue.reads == 2


def test_gunicorn_hooks_time_each_request_for_the_estimate(monkeypatch):
    # given a worker whose hooks have bound a fresh estimator
    estimate = admission.ExpectedWait(FakeQueue(0.0))
    monkeypatch.setattr(admission, "EXPECTED_WAIT", estimate)
    monkeypatch.setattr(admission, "LISTEN_QUEUE", admission.ListenQueue())
    monkeypatch.setattr(gunicorn_conf, "_expected_wait", None)
    worker = SimpleNamespace(sockets=[], cfg=SimpleNamespace(workers=2))
    gunicorn_conf.post_worker_init(worker)

    # when the worker serves a request
    gunicorn_conf.pre_request(worker, object())
    gunicorn_conf.post_request(worker, object(), {}, None)

    # then its service time is counted
    assert estimate.service_s > 0


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


@pytest.mark.parametrize("page", ["²", "٣", "1e3", "99999999", "\x00"])
def test_a_page_number_python_calls_a_digit_is_classed_not_raised(client, product, queue, page):
    # given a queue past every budget, so admission control must classify the request
    queue(depth=40.0, service_s=0.05)

    # when a listing is asked for with a page number int() refuses
    response = client.get("/c/outdoor/", {"page": page})

    # then admission classes it as an ordinary page (shed or 404, never a 500)
    assert response.status_code in (404, 503)
