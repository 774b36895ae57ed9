"""Load scenarios by name: what `manage.py loadtest --scenario NAME` and `demo` run.

A scenario names its load shape (`loadtests/shapes.py`), the shape's peak user count and
duration, a hard cap on requests, how many Locust processes generate the load, and the
catalog size to seed an empty store with. Its gates are in `loadtests/gates.toml` under
the same name. CI runs `smoke`; the others are for people and benchmarks. The `lab-*`
scenarios are the failure-mode lab's (`loadtests/lab.py`): short, seeded, each shaped to
show a mode.
"""

import math
from dataclasses import dataclass, replace

from loadtests.shapes import plan_for


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
    # Locust in distributed mode: one `--master` and this many `--worker` processes
    # (each may run on a host of its own; docs/scale-out.md). 0: one local runner.
    workers: int = 0
    # Short enough for every CI run.
    ci: bool = False
    # Seeds the load generator's choices (None: a fresh draw each run). Two runs of a
    # seeded scenario ask for the same pages in the same order.
    seed: int | None = None
    # The phase at whose start the runner deploys to the stack (`manage.py deploy`).
    deploy_phase: str | None = None
    # The calibration (`devstack.calibration`, bare Django req/s) of the machine the peak
    # was sized on. On a slower machine the peak is cut in proportion (`sized_for`), so
    # it asks the same share of the machine's capacity; None: the peak is fixed.
    sized_at_calibration_rps: float | None = None

    def phase_start_s(self, phase: str) -> int:
        """Seconds into the run at which one of the shape's phases starts."""
        plan = plan_for(self.shape, users=self.users, duration_s=self.run_time_s)
        return next(window.start_s for window in plan.windows() if window.name == phase)

    @property
    def spawn_rate(self) -> float:
        return max(1.0, self.users / 5)

    def sized_for(self, calibration_rps: float | None) -> "Scenario":
        """The same scenario with its peak cut to a machine slower than the one it was
        sized on, in proportion to their calibrations; never raised on a faster one.

        Cut to the ten below: a peak of ten times a whole baseline, never above the
        machine's share (its calibration moves by a fifth between runs), and runs on one
        machine mostly get the same peak.
        """
        if not (self.sized_at_calibration_rps and calibration_rps):
            return self
        share = min(1.0, calibration_rps / self.sized_at_calibration_rps)
        return replace(self, users=max(10, math.floor(self.users * share / 10) * 10))

    def scaled(
        self,
        *,
        users: int | None = None,
        duration_s: int | None = None,
        processes: int | None = None,
        workers: int | None = None,
    ) -> "Scenario":
        """The same scenario with another peak, duration, process or worker count."""
        return replace(
            self,
            users=users or self.users,
            run_time_s=duration_s or self.run_time_s,
            processes=processes or self.processes,
            workers=self.workers if workers is None else workers,
        )


SCENARIOS: dict[str, Scenario] = {}

# The spikes' 60 users are a spike the store serves, which their gates judge, not an
# overload, which bench_overload judges, on a 2-core machine calibrated at this: they
# passed on machines calibrated at 2,900-4,600, and on one at 1,400-1,650 the campaign
# spike passed at 28 users and missed its ratio by 0.02 at 30 (docs/benchmarks.md,
# "Campaign spike"). Slower machines get a peak cut in proportion.
SPIKE_SIZED_AT_CALIBRATION_RPS = 4000.0


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
            "Peak 60 users over a baseline of 6 on 2 cores calibrated at 4,000 req/s or "
            "more; fewer in proportion on a slower machine."
        ),
        shape="campaign-spike",
        users=60,
        sized_at_calibration_rps=SPIKE_SIZED_AT_CALIBRATION_RPS,
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
        sized_at_calibration_rps=SPIKE_SIZED_AT_CALIBRATION_RPS,
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


# The failure-mode lab's scenarios (loadtests/lab.py): each at most about 100 s of load,
# so a lab run (the mode on, then off) fits in 6 minutes on 2 cores, and seeded. Their
# catalog is the one `make demo` seeds (10,000 products): a workshop runs the lab on it.
scenario_register(
    Scenario(
        name="lab-catalog-feed",
        description="The everyday mix with a partner's catalog feed paging the product API.",
        shape="catalog-feed",
        users=16,
        run_time_s=80,
        max_requests=60_000,
        seed=15,
    )
)
scenario_register(
    Scenario(
        name="lab-campaign",
        description="A short campaign spike: every visit lands with utm_* and a click id.",
        shape="campaign-spike",
        users=30,
        run_time_s=90,
        max_requests=80_000,
        seed=15,
    )
)
scenario_register(
    Scenario(
        name="lab-release",
        description="A steady load, warm, then a release is deployed under it.",
        shape="release",
        users=20,
        run_time_s=90,
        max_requests=80_000,
        seed=15,
    )
)
scenario_register(
    Scenario(
        name="lab-rollout",
        description="A steady load while a slow release rolls out: early and late halves.",
        shape="rollout",
        users=20,
        run_time_s=100,
        max_requests=80_000,
        seed=15,
    )
)
scenario_register(
    Scenario(
        name="lab-backoffice",
        description="The everyday mix, back-office price and stock imports included.",
        shape="steady",
        users=20,
        run_time_s=90,
        max_requests=80_000,
        seed=15,
    )
)
scenario_register(
    Scenario(
        name="lab-search",
        description=(
            "Searches mostly: the search page, and an app's search and category screens "
            "scrolling through the search API."
        ),
        shape="search-heavy",
        # On the 50,000-product store the run grows to: at 40 users the good path saturated
        # too (65.9% of searches within SLO, 14.4% naive); at 20, 99.9% against 70.4%.
        users=20,
        run_time_s=90,
        max_requests=80_000,
        seed=15,
    )
)
scenario_register(
    Scenario(
        name="lab-checkout",
        description="Carts and orders mostly, with many promotions active.",
        shape="checkout-heavy",
        users=16,
        run_time_s=90,
        max_requests=80_000,
        seed=15,
    )
)
scenario_register(
    Scenario(
        name="lab-outage",
        description="A short campaign spike with optional dependencies hanging mid-way.",
        shape="partial-outage",
        users=30,
        run_time_s=100,
        max_requests=80_000,
        seed=15,
    )
)
scenario_register(
    Scenario(
        name="lab-flash-sale",
        description="A short flash sale: a crowd buys one hot SKU.",
        shape="flash-sale",
        users=30,
        run_time_s=90,
        max_requests=80_000,
        seed=15,
    )
)
scenario_register(
    Scenario(
        name="deploy-during-spike",
        description=(
            "A campaign spike with a deploy at its peak: a migration adding a column and an "
            "index to the products table, a cached namespace retired as a changed shape "
            "retires it, gunicorn reloaded, the Celery worker replaced, beat restarted."
        ),
        shape="deploy-during-spike",
        users=60,
        sized_at_calibration_rps=SPIKE_SIZED_AT_CALIBRATION_RPS,
        run_time_s=240,
        max_requests=200_000,
        deploy_phase="deploy",
    )
)
