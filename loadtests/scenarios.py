"""Load scenarios by name: what `manage.py loadtest --scenario NAME` and `demo` run.

A scenario names its load shape (`loadtests/shapes.py`), the shape's peak user count and
duration, a hard cap on requests, how many Locust processes generate the load, and the
catalog size to seed an empty store with. Its gates are in `loadtests/gates.toml` under
the same name. CI runs `smoke`; the others are for people and benchmarks.
"""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    users: int  # the shape's peak
    run_time_s: int
    max_requests: int
    shape: str = "steady"
    error_budget: float = 0.01
    # How many products to seed when the database is empty.
    seed_products: int = 10_000
    # Locust processes generating load (`--processes`); 1 keeps the cores for the store.
    processes: int = 1
    # Short enough for every CI run.
    ci: bool = False

    @property
    def spawn_rate(self) -> float:
        return max(1.0, self.users / 5)

    def scaled(
        self,
        *,
        users: int | None = None,
        duration_s: int | None = None,
        processes: int | None = None,
    ) -> "Scenario":
        """The same scenario with another peak, duration or process count."""
        return replace(
            self,
            users=users or self.users,
            run_time_s=duration_s or self.run_time_s,
            processes=processes or self.processes,
        )


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
        description="A minute of the everyday mix: browse, search, carts, orders, writers, bots.",
        users=30,
        run_time_s=60,
        max_requests=60_000,
    )
)
scenario_register(
    Scenario(
        name="smoke",
        description="40 s of the everyday mix at low load, with every gate: what CI runs.",
        users=10,
        run_time_s=40,
        max_requests=20_000,
        seed_products=2_000,
        ci=True,
    )
)
scenario_register(
    Scenario(
        name="steady",
        description="Two minutes of steady traffic at the demo's load.",
        users=30,
        run_time_s=120,
        max_requests=100_000,
    )
)
scenario_register(
    Scenario(
        name="campaign-spike",
        description=(
            "A campaign e-mail lands: baseline, 10x within a minute, sustain, decay. "
            "Peak 60 users over a baseline of 6 (sized for 2 cores)."
        ),
        shape="campaign-spike",
        users=60,
        run_time_s=300,
        max_requests=200_000,
    )
)
scenario_register(
    Scenario(
        name="flash-sale",
        description="A baseline, then one hot SKU goes live at a set time and a crowd buys it.",
        shape="flash-sale",
        users=40,
        run_time_s=180,
        max_requests=150_000,
    )
)
scenario_register(
    Scenario(
        name="partial-outage",
        description=(
            "A campaign spike during which the simulator's `partial-outage` preset is on "
            "(optional services hang, tax and shipping fail, ERP is slow), then healthy."
        ),
        shape="partial-outage",
        users=60,
        run_time_s=300,
        max_requests=200_000,
    )
)
scenario_register(
    Scenario(
        name="reconcile-drift",
        description=(
            "Steady traffic; a third in, the ERP's stock, the PIM's prices, the gateway's "
            "captures and the ERP's bookings drift by 5%. After the load, reconciliation "
            "must find every injected difference (audit `reconcile_verify`)."
        ),
        shape="reconcile-drift",
        users=20,
        run_time_s=90,
        max_requests=80_000,
        seed_products=2_000,
    )
)
scenario_register(
    Scenario(
        name="soak",
        description="Half an hour at a steady load: leaks, queue growth, cache churn.",
        shape="soak",
        users=20,
        run_time_s=1800,
        max_requests=1_000_000,
    )
)
