"""Load scenarios by name: what `manage.py loadtest --scenario NAME` and `demo` run.

A scenario says who visits (Locust user classes; all of them when empty), how many, for
how long, with a hard cap on requests, and its error budget. The load-test suite adds
shapes and gates here; the runner reads only this registry.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    users: int
    spawn_rate: float
    run_time_s: int
    max_requests: int
    error_budget: float = 0.01
    user_classes: tuple[str, ...] = ()
    # How many products to seed when the database is empty.
    seed_products: int = 10_000


SCENARIOS: dict[str, Scenario] = {}


def scenario_register(scenario: Scenario) -> Scenario:
    if scenario.name in SCENARIOS:
        raise ValueError(f"scenario {scenario.name!r} is already registered")
    SCENARIOS[scenario.name] = scenario
    return scenario


def scenario_get(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise KeyError(f"no scenario {name!r}; known scenarios: {known}") from None


scenario_register(
    Scenario(
        name="demo",
        description="A minute of mixed traffic: browse, search, add to cart, buy via the API.",
        users=30,
        spawn_rate=10,
        run_time_s=60,
        max_requests=60_000,
    )
)
scenario_register(
    Scenario(
        name="smoke",
        description="Half a minute of the same mix at low load; fails on more than 1% errors.",
        users=10,
        spawn_rate=10,
        run_time_s=30,
        max_requests=20_000,
        seed_products=2_000,
    )
)
