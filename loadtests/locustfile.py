"""Peakstore's Locust entry point: `locust -f loadtests/locustfile.py`.

Run it through `manage.py loadtest` (or `demo`), which boots the stack, writes the
catalog snapshot the users pick from, and reads the results. Pass user class names on
the command line to run a subset; a scenario in `storefront/stack/scenarios.py` does.
"""

import itertools
import logging
import os

import gevent
from locust import events
from locust.env import Environment

from loadtests.users import BrowseUser, BuyerUser, CartUser, SearchUser

__all__ = ["BrowseUser", "BuyerUser", "CartUser", "SearchUser"]

MAX_REQUESTS_ENV = "PEAKSTORE_LOAD_MAX_REQUESTS"
logger = logging.getLogger(__name__)


@events.init.add_listener
def stop_after_request_budget(environment: Environment, **_: object) -> None:
    """Bound a run by count as well as by time: quit once the budget of requests is spent.

    The budget applies per Locust process (each `--processes` worker counts its own).
    """
    budget = int(os.environ.get(MAX_REQUESTS_ENV) or 0)
    if budget <= 0:
        return
    counter = itertools.count(1)

    def _count(**_: object) -> None:
        if next(counter) == budget and environment.runner is not None:
            logger.warning("request budget of %d spent; stopping the run", budget)
            # Quit from a fresh greenlet: this hook runs inside a user's greenlet,
            # which quitting kills.
            gevent.spawn(environment.runner.quit)

    environment.events.request.add_listener(_count)
