"""What each new simulated user is given: its store (one of several web stacks) and its
random generator (seeded, so two runs of a seeded scenario ask for the same pages).

Plain Python without Locust: importing Locust monkey-patches the process (gevent), so
what tests and the runner need to read stays out of `users.py`.
"""

import itertools
import os
import random

SEED_ENV = "PEAKSTORE_LOAD_SEED"
# Several web stacks of one store (docs/scale-out.md): each new user is given the next
# base URL in turn, the load generator's own round-robin, so no balancer is needed.
HOSTS_ENV = "PEAKSTORE_LOAD_HOSTS"
_user_numbers = itertools.count()
_next_host = itertools.count()


def host_for_next_user(default: str | None) -> str | None:
    """The next of the comma-separated base URLs in PEAKSTORE_LOAD_HOSTS, else `default`."""
    hosts = [host.strip() for host in os.environ.get(HOSTS_ENV, "").split(",") if host.strip()]
    return hosts[next(_next_host) % len(hosts)] if hosts else default


def user_rng() -> random.Random:
    """A new user's generator: seeded from PEAKSTORE_LOAD_SEED and its number, if set."""
    seed = os.environ.get(SEED_ENV)
    number = next(_user_numbers)
    return random.Random(f"{seed}:{number}") if seed else random.Random()
