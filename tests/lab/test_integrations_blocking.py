"""Lab mode `integrations-blocking`: the product page calls its optional dependencies one
after another, waiting for each, with no fan-out budget, no breaker and the HTTP
library's default timeout. Switched off, they run in parallel under the page's budget,
each through its breaker, with its own policy. Spies and the simulator, no timings."""

import pytest

from integrations import fanout, resilience, reviews, upstream
from integrations.fanout import fanout_recorded
from integrations.reviews import reviews_for_product

URL = "/p/trail-runner/"


@pytest.fixture
def spies(monkeypatch, upstream_simulator):
    """Count what the page consults: the fan-out pool, breakers, and each call's timeout."""
    seen = {"pool": 0, "breakers": [], "timeouts": []}
    pool = fanout._fanout_pool

    def counted_pool():
        seen["pool"] += 1
        return pool()

    before_call = resilience.Breaker.before_call

    def consulted(breaker):
        seen["breakers"].append(breaker.spec.name)
        return before_call(breaker)

    stream = upstream.upstream_client().stream

    def timed_stream(*args, **kwargs):
        seen["timeouts"].append(kwargs["timeout"])
        return stream(*args, **kwargs)

    monkeypatch.setattr(fanout, "_fanout_pool", counted_pool)
    monkeypatch.setattr(resilience.Breaker, "before_call", consulted)
    monkeypatch.setattr(upstream.upstream_client(), "stream", timed_stream)
    return seen


def test_with_integrations_blocking_the_page_calls_its_widgets_in_turn_unprotected(
    lab, client, product, spies
):
    lab("integrations-blocking")

    with fanout_recorded(strict=False) as records:
        response = client.get(URL)

    assert response.status_code == 200
    assert records[0].called == ["recommendations", "reviews"]  # one after the other
    assert spies["pool"] == 0  # no parallel fan-out, so no deadline to stop waiting at
    assert spies["breakers"] == []  # no breaker consulted
    assert spies["timeouts"] == [upstream.LIBRARY_DEFAULT_TIMEOUT] * 2


def test_with_integrations_blocking_off_the_widgets_run_in_parallel_behind_breakers(
    lab, client, product, spies
):
    lab()  # the lab is on, this mode is not

    with fanout_recorded() as records:
        response = client.get(URL)

    assert response.status_code == 200
    assert sorted(records[0].called) == ["recommendations", "reviews"]
    assert spies["pool"] == 1
    assert sorted(spies["breakers"]) == ["recommendations", "reviews"]
    assert upstream.LIBRARY_DEFAULT_TIMEOUT not in spies["timeouts"]
    assert all(timeout.read <= 1.0 for timeout in spies["timeouts"])


def test_with_integrations_blocking_a_failing_widget_never_opens_its_breaker(
    lab, upstream_simulator
):
    lab("integrations-blocking")
    upstream_simulator.set_fault("reviews", down=True)

    for _ in range(reviews.SPEC.failure_threshold + 1):
        assert reviews_for_product(slug="trail-runner") is None  # the fallback

    assert resilience.breaker_for(reviews.SPEC).state() == "closed"


def test_with_integrations_blocking_off_the_same_failures_open_it(lab, upstream_simulator):
    lab()
    upstream_simulator.set_fault("reviews", down=True)

    for _ in range(reviews.SPEC.failure_threshold + 1):
        assert reviews_for_product(slug="trail-runner") is None

    assert resilience.breaker_for(reviews.SPEC).state() == "open"
