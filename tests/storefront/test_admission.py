"""Admission control: in an overload, shed who waited past their budget; checkout never."""

import os
import socket
import struct
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
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


class FakeConnection:
    """A client connection as gunicorn hands it to the app: its TCP_INFO tells how long
    ago its request arrived, in whole milliseconds as the kernel does."""

    def __init__(self, waited_s: float) -> None:
        self.waited_ms = round(waited_s * 1000)

    def getsockopt(self, level: int, option: int, size: int) -> bytes:
        assert (level, option) == (socket.IPPROTO_TCP, socket.TCP_INFO)
        info = bytearray(size)
        struct.pack_into("I", info, 52, self.waited_ms)  # tcpi_last_data_recv
        return bytes(info)


def waited(seconds: float) -> dict[str, object]:
    """Extra WSGI environ for a request that waited `seconds` for a worker under gunicorn."""
    return {"gunicorn.socket": FakeConnection(seconds)}


def _serve(estimate: admission.ExpectedWait, clock: FakeClock, *, seconds: float) -> float:
    """Serve one request as a gunicorn worker does; return the standing wait it met."""
    estimate.request_started()
    standing = estimate.standing()
    clock.now += seconds
    estimate.request_finished()
    return standing


OVERLOAD_WAIT = 0.3


@pytest.fixture(autouse=True)
def _budgets(settings):
    """Fixed budgets, so the tests read against them rather than the tuned defaults."""
    settings.STOREFRONT_ADMISSION_BUDGETS = {"bot": 0.05, "deep_browse": 0.1, "browse": 0.2}
    settings.STOREFRONT_ADMISSION_OVERLOAD_WAIT = OVERLOAD_WAIT


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

    assert client.get("/", **BOT, **waited(1.0)).status_code == 200
    assert client.get("/c/outdoor/?page=9", **waited(1.0)).status_code != 503


def test_a_deep_queue_of_cheap_requests_is_not_shed(client, product, queue):
    # given 64 connections on 2 workers answered from the page cache: 31 waiting per
    # worker, a millisecond each, so a newcomer waits about 31 ms
    queue(depth=31.0, service_s=0.001)

    # when a shopper, a reader of page 9 and a bot ask, each after waiting that long
    shopper = client.get("/c/outdoor/", **waited(0.031))
    deep = client.get("/c/outdoor/?page=9", **waited(0.031))
    bot = client.get("/p/trail-runner/", **BOT, **waited(0.031))

    # then every one is served: no overload, and within even the bots' 50 ms
    assert shopper.status_code == 200
    assert deep.status_code != 503
    assert bot.status_code == 200


def test_a_queue_short_of_an_overload_sheds_nobody_whatever_they_waited(client, product, queue):
    # given a 250 ms wait, short of the 300 ms overload: a burst at 80% of capacity
    queue(depth=5.0, service_s=0.05)

    # when a bot that waited that long asks, past its 50 ms budget
    bot = client.get("/p/trail-runner/", **BOT, **waited(0.25))

    # then it is served: bursts are what the queue is for
    assert bot.status_code == 200


def test_the_same_queue_of_slow_requests_is_shed(client, product, queue):
    # given only 7 waiting per worker, but each takes 100 ms: a 700 ms wait
    queue(depth=7.0, service_s=0.1)

    response = client.get("/c/outdoor/", **waited(0.7))

    assert response.status_code == 503
    assert response[admission.SHED_HEADER] == "browse"


def test_in_an_overload_a_request_within_its_budget_is_served(client, product, queue):
    # given an overload (a 700 ms wait)
    queue(depth=7.0, service_s=0.1)

    # when a shopper asks whose request waited 150 ms, within the browse budget of 200
    response = client.get("/c/outdoor/", **waited(0.15))

    # then the page is served: the queue in front of it has gone, refused
    assert response.status_code == 200


def test_bots_are_shed_first(client, product, queue):
    # given an overload, and a bot and a shopper that each waited 60 ms: past the bots'
    # budget, within everyone else's
    queue(depth=10.0, service_s=0.05)
    before = _shed_count("bot")

    bot = client.get("/p/trail-runner/", **BOT, **waited(0.06))
    shopper = client.get("/p/trail-runner/", **waited(0.06))

    # then the bot is refused at once, counted as shed, and the shopper served
    assert bot.status_code == 503
    assert bot["Retry-After"] == "2"
    assert bot[admission.SHED_HEADER] == "bot"
    assert _shed_count("bot") == before + 1
    assert shopper.status_code == 200


def test_deep_browse_is_shed_before_ordinary_browse(client, product, queue):
    queue(depth=10.0, service_s=0.05)

    deep = client.get("/c/outdoor/?page=5", **waited(0.15))
    first_page = client.get("/c/outdoor/", **waited(0.15))

    assert deep.status_code == 503
    assert deep[admission.SHED_HEADER] == "deep_browse"
    assert first_page.status_code == 200


def test_checkout_keeps_its_capacity_when_browse_is_shed(client, sku, queue):
    # given an overload so long that even ordinary browsing is shed
    queue(depth=10.0, service_s=0.1)
    late = waited(1.0)
    assert client.get("/", **late)[admission.SHED_HEADER] == "browse"

    # when a buyer who waited as long creates a cart, adds a line and goes to checkout
    cart = client.post("/api/v1/carts/", {}, content_type="application/json", **late)
    token = cart.json()["token"]
    line = client.post(
        f"/api/v1/carts/{token}/lines/",
        {"sku": sku, "quantity": 1},
        content_type="application/json",
        **late,
    )
    checkout_page = client.get("/checkout/", **late)

    # then none of it is shed
    assert cart.status_code == 201
    assert line.status_code == 201
    assert checkout_page.status_code != 503
    assert client.get("/healthz", **late).status_code == 200


def test_a_budget_cannot_make_critical_routes_sheddable(client, db, settings):
    settings.STOREFRONT_ADMISSION_BUDGETS = {"browse": 0.2, "critical": 1.0}

    with pytest.raises(ImproperlyConfigured, match="critical"):
        client.get("/healthz")


def test_a_shed_request_runs_no_query(client, product, queue, django_assert_num_queries):
    queue(depth=10.0, service_s=0.1)

    with django_assert_num_queries(0):
        response = client.get("/c/outdoor/?page=2", **waited(1.0))

    assert response.status_code == 503
    assert "sessionid" not in response.cookies


def test_a_shed_request_is_not_logged_as_a_server_error(client, product, queue, caplog):
    # given an overload: a campaign spike sheds hundreds a second
    queue(depth=7.0, service_s=0.1)

    with caplog.at_level("WARNING", logger="django.request"):
        response = client.get("/c/outdoor/", **waited(0.7))

    # then it is counted and marked, not logged by Django as an error per refusal
    assert response.status_code == 503
    assert [r for r in caplog.records if r.name == "django.request"] == []


def test_api_requests_are_shed_with_the_error_shape(client, product, queue):
    queue(depth=10.0, service_s=0.1)

    response = client.get("/api/v1/products/", **waited(1.0))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "overloaded"


def test_admission_control_can_be_switched_off(client, product, queue, settings):
    settings.STOREFRONT_ADMISSION_ENABLED = False
    queue(depth=10.0, service_s=0.1)

    assert client.get("/", **BOT, **waited(1.0)).status_code == 200


def test_the_expected_wait_the_overload_and_the_budgets_are_exported(client, db, queue):
    # given 30 waiting per worker at 2 ms each
    queue(depth=30.0, service_s=0.002)

    # when a page is asked for and /metrics scraped
    client.get("/")
    body = client.get("/metrics").content.decode()

    # then the estimate, the overload threshold and each class's budget are exposed
    samples = {
        (sample.name, sample.labels.get("route_class")): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    assert samples[("peakstore_admission_expected_wait_seconds", None)] == pytest.approx(0.06)
    assert samples[("peakstore_admission_overload_wait_seconds", None)] == OVERLOAD_WAIT
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

    # then no request meets a standing wait of even a third of the overload wait
    assert max(before + after) < 0.1


def test_a_burst_of_cheap_requests_after_a_slow_one_is_not_shed():
    # given a fresh worker whose first request rendered a cold page in half a second
    clock = FakeClock()
    estimate = admission.ExpectedWait(FakeQueue(31.0), clock=clock)
    _serve(estimate, clock, seconds=0.49)

    # when 64 connections then ask for cached pages of a millisecond, back to back
    met = [_serve(estimate, clock, seconds=0.001) for _ in range(1000)]

    # then no request meets a standing wait of 200 ms, short of the overload wait
    assert max(met) < 0.2


def test_a_wait_stands_once_it_has_lasted_an_interval():
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


def test_a_worker_preempted_between_requests_still_sees_the_wait_stand():
    # given an overload on a crowded machine, where 5 ms pass between two requests
    clock = FakeClock()
    estimate = admission.ExpectedWait(FakeQueue(7.0), clock=clock)
    met = []
    for _ in range(20):
        met.append(_serve(estimate, clock, seconds=0.1))
        clock.now += 0.005

    # then the gaps are not mistaken for an empty queue
    assert met[-1] == pytest.approx(0.7)


def test_a_worker_shedding_a_deep_queue_still_sees_the_wait_stand():
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


def _overloaded(estimate: admission.ExpectedWait, clock: FakeClock, *, seconds: float) -> bool:
    """Serve one request as `_serve` does; return whether the worker is overloaded, and
    refuse the request if it is (as for one that waited past its budget)."""
    estimate.request_started()
    overloaded = estimate.overloaded(OVERLOAD_WAIT)
    if overloaded:
        estimate.refused()
    clock.now += seconds
    estimate.request_finished()
    return overloaded


def test_an_overload_begins_once_the_wait_has_stood_an_interval():
    # given requests of 50 ms each, 14 waiting per worker (a 700 ms wait)
    clock = FakeClock()
    estimate = admission.ExpectedWait(FakeQueue(14.0), clock=clock)

    met = [_overloaded(estimate, clock, seconds=0.05) for _ in range(20)]

    # then the first requests, still a burst, find no overload; the last ones do
    assert met[:3] == [False] * 3
    assert met[-1]


def test_a_wait_that_stands_short_of_the_overload_wait_is_no_overload():
    clock = FakeClock()
    estimate = admission.ExpectedWait(FakeQueue(5.0), clock=clock)  # 250 ms of 50 ms

    assert not any(_overloaded(estimate, clock, seconds=0.05) for _ in range(40))


def _overloaded_worker() -> tuple[admission.ExpectedWait, FakeClock, FakeQueue]:
    """A worker overloaded by 50 ms requests, 14 waiting per worker."""
    clock = FakeClock()
    queue = FakeQueue(14.0)
    estimate = admission.ExpectedWait(queue, clock=clock)
    assert [_overloaded(estimate, clock, seconds=0.05) for _ in range(20)][-1]
    return estimate, clock, queue


def test_an_overload_goes_on_while_requests_are_refused_whatever_the_estimate():
    estimate, clock, queue = _overloaded_worker()

    # when refusals drain the queue so that the estimate falls under the overload wait
    queue.depth = 1.0
    during = [_overloaded(estimate, clock, seconds=0.05) for _ in range(30)]

    # then the overload goes on: the refusals are what keep the queue short
    assert all(during)


def test_an_overload_ends_once_a_second_passes_without_a_refusal():
    estimate, clock, queue = _overloaded_worker()

    # when nobody is refused for longer than OVERLOAD_EXIT_S, the queue short
    queue.depth = 1.0
    clock.now += admission.OVERLOAD_EXIT_S + 0.05
    after = _overloaded(estimate, clock, seconds=0.05)
    queue.depth = 14.0
    back = [_overloaded(estimate, clock, seconds=0.05) for _ in range(12)]

    # then it is over, and a deep queue must stand an interval again to make another
    assert not after
    assert back[:3] == [False] * 3
    assert back[-1]


def test_an_overload_outlasts_a_worker_finding_the_queue_empty():
    estimate, clock, _ = _overloaded_worker()

    # when the worker waits 20 ms for its next connection (refusals emptied the queue)
    clock.now += 0.02
    back = [_overloaded(estimate, clock, seconds=0.05) for _ in range(3)]

    # then the overload goes on: a fresh backlog is not let in while it stands again
    assert back == [True] * 3


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


@pytest.mark.skipif(sys.platform != "linux", reason="the wait is read with TCP_INFO")
def test_a_connection_tells_how_long_its_request_waited_for_a_worker():
    # given a request sent at once on connecting, then left 60 ms in the accept queue
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        client.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(0.06)
        connection, _ = listener.accept()
        with client, connection:
            connection.recv(4096)  # gunicorn reads and parses it before the app runs
            request = RequestFactory().get("/", **{"gunicorn.socket": connection})

            # then the kernel's stamp tells the wait, to its clock's tick (1-10 ms)
            assert 0.05 <= admission.connection_wait(request) < 0.5


def test_without_a_tcp_connection_no_wait_is_measured():
    # the test client and runserver hand no connection over; a Unix socket has no TCP_INFO
    unix, other = socket.socketpair()
    with unix, other:
        assert admission.connection_wait(RequestFactory().get("/")) == 0.0
        on_unix = RequestFactory().get("/", **{"gunicorn.socket": unix})
        assert admission.connection_wait(on_unix) == 0.0


@pytest.mark.parametrize("page", ["²", "٣", "1e3", "99999999", "\x00"])
def test_a_page_number_python_calls_a_digit_is_classed_not_raised(client, product, queue, page):
    # given an overload, so admission control must classify the request
    queue(depth=40.0, service_s=0.05)

    # when a listing is asked for with a page number int() refuses
    response = client.get("/c/outdoor/", {"page": page}, **waited(1.0))

    # then admission classes it as an ordinary page (shed or 404, never a 500)
    assert response.status_code in (404, 503)


def _in_a_fresh_worker(script: str) -> list[str]:
    """Run `script` in a new interpreter, as gunicorn's new worker; the words it printed."""
    env = {**os.environ, "PEAKSTORE_WEB_READY_DIR": ""}
    done = subprocess.run(
        [sys.executable, "-c", "import os, sys, types\n" + script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


WORKER = "worker = types.SimpleNamespace(sockets=[], cfg=types.SimpleNamespace(workers=2))\n"


def test_a_booted_worker_has_imported_its_views_before_its_first_request():
    # given a fresh process that has loaded the app, as a gunicorn worker has
    # when its post_worker_init hook runs
    words = _in_a_fresh_worker(
        "from storefront.wsgi import application\n"
        "from storefront import gunicorn_conf\n"
        "before = 'storefront.pages.views.browse' in sys.modules\n"
        + WORKER
        + "gunicorn_conf.post_worker_init(worker)\n"
        "print(before, 'storefront.pages.views.browse' in sys.modules)\n"
    )

    # then the views are imported: not before the hook, but after it
    assert words == ["False", "True"]


def test_a_worker_boots_at_a_low_priority_and_serves_at_the_masters():
    # given a fresh process, as gunicorn forks a worker from its master
    # when it loads the app between its post_fork and post_worker_init hooks
    may, master, booting, serving = _in_a_fresh_worker(
        "from storefront import gunicorn_conf\n"
        "from toolkit.priority import may_return_to\n"
        "master = os.getpriority(os.PRIO_PROCESS, 0)\n"
        + WORKER
        + "gunicorn_conf.post_fork(None, worker)\n"
        "booting = os.getpriority(os.PRIO_PROCESS, 0)\n"
        "from storefront.wsgi import application\n"
        "gunicorn_conf.post_worker_init(worker)\n"
        "print(may_return_to(master), master, booting, os.getpriority(os.PRIO_PROCESS, 0))\n"
    )

    # then it imported the app 10 lower (where it could come back) and serves at the
    # master's priority
    expected = min(int(master) + 10, 19) if may == "True" else int(master)
    assert (int(booting), int(serving)) == (expected, int(master))
