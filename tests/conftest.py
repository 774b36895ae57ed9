"""Shared fixtures. Profiles: tests run on whichever profile the environment selects;
`.ci/run` selects the services profile so nothing that needs a service can skip there."""

import os

import pytest
from django.core.cache import cache
from hypothesis import settings as hypothesis_settings

from integrations.caches import QUOTES
from tests.factories import CategoryFactory, stocked_product
from tests.metrics import metric_delta  # noqa: F401
from tests.simulator import _upstream, upstream_simulator  # noqa: F401
from toolkit.cache import owned
from toolkit.cache import store as cache_store
from toolkit.cache.owned import epoch_moved

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Hypothesis's per-example deadline is a timed assertion: on a loaded machine a correct
# example fails it. Timing belongs to the benchmark commands.
hypothesis_settings.register_profile("peakstore", deadline=None)
hypothesis_settings.load_profile("peakstore")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--ops-screenshots",
        action="store_true",
        help="write /ops/ at 390, 1280 and 1920 px to docs/screenshots/ (tests/browser)",
    )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, with its other sessions ended before it is dropped.

    Background threads (the change batcher's timer, the trace sink) keep their own
    connections open; PostgreSQL refuses to drop a database anyone is connected to, and
    the suite would leave its `test_peakstore_<pid>` database behind on the shared server.
    """
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _clear_cache():
    # A test that made the cache fail must not leave the next one skipping it.
    cache_store.breaker.reset()
    cache.clear()
    epoch_moved(cache)  # cleared by this process: its kept epoch is gone too
    yield
    cache.clear()
    epoch_moved(cache)
    cache_store.breaker.reset()


@pytest.fixture
def quotes_expire(monkeypatch):
    """Call it to move the caches' clock past a live shipping or tax quote's minutes."""
    real_now = owned._now

    def expire() -> None:
        later = QUOTES.spec.ttl + 1
        monkeypatch.setattr(owned, "_now", lambda: real_now() + later)

    return expire


@pytest.fixture
def category(db):
    return CategoryFactory(name="Outdoor", slug="outdoor")


@pytest.fixture
def product(db, category):
    """One product with one variant, a price of 19.90 and 10 units in stock."""
    return stocked_product(category=category, name="Trail Runner", slug="trail-runner")


@pytest.fixture
def sku(product):
    return product.variants.get().sku


@pytest.fixture
def lab(db, settings):
    """Enable the failure-mode lab for the test; call `lab("mode")` to switch a mode on."""
    from toolkit import lab as lab_module

    settings.PEAKSTORE_LAB = True
    lab_module.memo_forget()

    def switch_on(*modes: str) -> None:
        for mode in modes:
            lab_module.switch(mode, on=True, actor="test")

    yield switch_on
    # Forget this test's switches (reading them now would still see its rows).
    lab_module.memo_forget()


@pytest.fixture(scope="session")
def pg_pair():
    """A throwaway PostgreSQL primary with a streaming standby (devstack/pgpair.py).

    Started once per session, stopped and removed afterwards. Outside CI it skips when
    the server tools are missing; in CI it fails instead.
    """
    from devstack.pgpair import PostgresPair, missing_reason, postgres_bin_dir

    if reason := missing_reason():
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None
    pair = PostgresPair(bin_dir)
    try:
        yield pair.start()
    finally:
        pair.stop()
