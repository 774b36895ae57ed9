"""The product page's optional widgets: shown when healthy, never holding the page hostage.

Budgets are checked by `fanout_recorded`, which fails a page that waits past its fan-out
deadline or calls a dependency it did not declare; no wall-clock assertion here.
"""

import pytest

from integrations.fanout import FanOutBudget, UndeclaredDependency, fan_out_start, fanout_recorded
from integrations.tax import tax_rate
from storefront.pages.views.browse import PRODUCT_PAGE

URL = "/p/trail-runner/"


def assert_main_content_intact(html: str) -> None:
    assert "<h1>Trail Runner</h1>" in html
    assert "19.90" in html  # price
    assert "In stock" in html  # availability
    assert 'action="/cart/add/"' in html  # add to cart
    assert "application/ld+json" in html
    assert '"@type": "Product"' in html


def test_healthy_widgets_show_recommendations_and_reviews(client, product):
    with fanout_recorded() as records:
        response = client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert_main_content_intact(html)
    assert "Often bought together" in html
    assert len(response.context["recommendations"]) == 4
    assert response.context["reviews"] is not None
    assert "Reviews are unavailable" not in html
    assert records[0].outcomes == {"recommendations": "ok", "reviews": "ok"}


@pytest.mark.parametrize("fault", [{"hang": True}, {"down": True}, {"reset_rate": 1.0}])
def test_failing_optional_services_leave_the_page_whole_and_within_budget(
    client, product, upstream_simulator, fault
):
    upstream_simulator.set_fault("recommendations", **fault)
    upstream_simulator.set_fault("reviews", **fault)

    with fanout_recorded() as records:  # fails the test on a wait past the budget
        response = client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert_main_content_intact(html)
    assert 'id="recommendations"' not in html
    assert "Reviews are unavailable right now." in html
    (record,) = records
    assert record.budget == PRODUCT_PAGE
    assert response.context["recommendations"] is None
    assert response.context["reviews"] is None


def test_once_the_breakers_open_the_page_stops_calling_hanging_services(
    client, product, upstream_simulator
):
    upstream_simulator.set_fault("recommendations", hang=True)
    upstream_simulator.set_fault("reviews", hang=True)
    for _ in range(5):  # the breakers' threshold
        client.get(URL)
    reached = upstream_simulator.stats("reviews")["requests"]

    with fanout_recorded():
        response = client.get(URL)

    assert response.status_code == 200
    assert "Reviews are unavailable right now." in response.content.decode()
    assert upstream_simulator.stats("reviews")["requests"] == reached


def test_the_product_page_calls_only_its_optional_widgets(client, product):
    with fanout_recorded() as records:  # fails the test on a call the page did not declare
        client.get(URL)

    (record,) = records
    assert sorted(record.called) == ["recommendations", "reviews"]


def test_a_call_to_an_undeclared_dependency_fails_the_recorded_page(db):
    budget = FanOutBudget(page="sneaky", dependencies=frozenset({"reviews"}), budget_s=0.3)

    with pytest.raises(AssertionError, match="undeclared"), fanout_recorded():
        # Declared as "reviews", but the call inside asks the tax service.
        fan_out_start(budget, {"reviews": lambda: tax_rate(country="DE")}).collect()


def test_starting_an_undeclared_call_is_refused_at_once():
    budget = FanOutBudget(page="sneaky", dependencies=frozenset(), budget_s=0.3)

    with pytest.raises(UndeclaredDependency):
        fan_out_start(budget, {"tax": lambda: None})


@pytest.fixture
def naive_page(settings, upstream_simulator, monkeypatch):
    """Resilience off, both widgets' services hanging, and a budget far below their timeouts.

    Without resilience the page waits for each call in turn, each for its client's
    timeout (0.2 s); 0.05 s is a budget that waiting cannot keep.
    """
    settings.INTEGRATIONS_RESILIENCE = False
    upstream_simulator.set_fault("recommendations", hang=True)
    upstream_simulator.set_fault("reviews", hang=True)
    tight = FanOutBudget(page="product", dependencies=PRODUCT_PAGE.dependencies, budget_s=0.05)
    monkeypatch.setattr("storefront.pages.views.browse.PRODUCT_PAGE", tight)


def test_a_page_that_waits_past_its_budget_fails_the_recorded_test(client, product, naive_page):
    with pytest.raises(AssertionError, match="past its"), fanout_recorded():
        client.get(URL)


def test_without_resilience_the_page_still_degrades_but_only_after_the_timeouts(
    client, product, naive_page
):
    with fanout_recorded(strict=False) as records:
        response = client.get(URL)

    assert response.status_code == 200
    assert "Reviews are unavailable right now." in response.content.decode()
    assert records[0].over_budget
    assert records[0].called == ["recommendations", "reviews"]  # one after the other


def test_with_resilience_the_page_stops_waiting_at_the_same_tight_deadline(
    client, product, naive_page, settings
):
    settings.INTEGRATIONS_RESILIENCE = True

    # Not strict: how late a loaded machine wakes the page is not what this test is about.
    with fanout_recorded(strict=False) as records:
        response = client.get(URL)

    # "deadline": the page served the fallbacks while both calls were still hanging.
    assert response.status_code == 200
    assert "Reviews are unavailable right now." in response.content.decode()
    assert records[0].outcomes == {"recommendations": "deadline", "reviews": "deadline"}
