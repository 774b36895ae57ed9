"""Load shapes as code: how many users, of which kinds, second by second.

A `LoadPlan` is a list of phases. Each phase either holds a user count or ramps to it
linearly, may restrict the mix to some user classes, and may switch the upstream
simulator's fault preset or open a flash sale when it starts. Plans are plain data with
no Locust import, so tests can walk their tick sequence; `loadtests/locustfile.py` wraps
the chosen plan in Locust's `LoadTestShape`, which calls `tick_at` about once a second.

Each shape is a function of the peak user count and the total duration, so a scenario
(or `manage.py loadtest --users N --duration S`) scales it without changing its form.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

# The shape a run follows, by name (read by the locustfile and, for campaign URLs, users).
SHAPE_ENV = "PEAKSTORE_LOAD_SHAPE"
# The everyday mix; the flash-sale crowd joins it only while a sale is live.
DEFAULT_MIX = (
    "BrowseUser",
    "SearchUser",
    "CartUser",
    "BuyerUser",
    "BackOfficeUser",
    "CartHoarderBot",
)
FLASH_MIX = (*DEFAULT_MIX, "FlashSaleUser")
# The everyday mix plus a partner's catalog feed on the product API (uncached listings).
FEED_MIX = (*DEFAULT_MIX, "CatalogApiUser")
# A campaign's browsing: visitors look and search; the few who buy are left out, so no
# write retires what the caches hold and the caches carry most of the load.
BROWSE_MIX = ("BrowseUser", "SearchUser")
# Users started per second on a step: a campaign e-mail lands within seconds.
STEP_SPAWN_RATE_MIN = 5.0
SPIKE_FACTOR = 10


@dataclass(frozen=True)
class Phase:
    name: str
    duration_s: int
    users: int  # users at the end of the phase
    ramp: bool = False  # True: move linearly from the previous phase's users to `users`
    user_classes: tuple[str, ...] = DEFAULT_MIX
    # Simulator fault preset to switch on when the phase starts (None: leave as it is).
    faults: str | None = None
    # Units the hot SKU is restocked to when the phase starts: the sale goes live.
    flash_sale_stock: int | None = None
    # A release is deployed when the phase starts (its post-deploy hook runs).
    release: bool = False
    # Simulator drift to inject when the phase starts: (kind, rate) pairs.
    drift: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Tick:
    """What Locust should run now, and which phase that belongs to."""

    users: int
    spawn_rate: float
    user_classes: tuple[str, ...]
    phase: Phase


@dataclass(frozen=True)
class PhaseWindow:
    name: str
    start_s: int
    end_s: int
    users: int
    faults: str | None
    flash_sale: bool

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "users": self.users,
            "faults": self.faults,
            "flash_sale": self.flash_sale,
        }


@dataclass(frozen=True)
class LoadPlan:
    name: str
    phases: tuple[Phase, ...]
    step_spawn_rate: float = STEP_SPAWN_RATE_MIN
    _starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.phases:
            raise ValueError("a load plan needs at least one phase")
        if any(phase.duration_s <= 0 or phase.users < 0 for phase in self.phases):
            raise ValueError("every phase needs a positive duration and a user count >= 0")
        starts, elapsed = [], 0
        for phase in self.phases:
            starts.append(elapsed)
            elapsed += phase.duration_s
        object.__setattr__(self, "_starts", tuple(starts))

    @property
    def duration_s(self) -> int:
        return self._starts[-1] + self.phases[-1].duration_s

    @property
    def peak_users(self) -> int:
        return max(phase.users for phase in self.phases)

    def windows(self) -> list[PhaseWindow]:
        """Each phase's place on the timeline (for the report's phase bands)."""
        return [
            PhaseWindow(
                name=phase.name,
                start_s=start,
                end_s=start + phase.duration_s,
                users=phase.users,
                faults=phase.faults,
                flash_sale=phase.flash_sale_stock is not None,
            )
            for phase, start in zip(self.phases, self._starts, strict=True)
        ]

    def phase_index_at(self, t: float) -> int | None:
        if t < 0 or t >= self.duration_s:
            return None
        for index in range(len(self.phases) - 1, -1, -1):
            if t >= self._starts[index]:
                return index
        return None

    def tick_at(self, t: float) -> Tick | None:
        """Return the target at `t` seconds into the run, or None once the plan is over."""
        index = self.phase_index_at(t)
        if index is None:
            return None
        phase = self.phases[index]
        previous = self.phases[index - 1].users if index else 0
        if phase.ramp:
            done = (t - self._starts[index]) / phase.duration_s
            users = round(previous + (phase.users - previous) * done)
            # Fast enough that each one-second tick's change is made within the second.
            slope = abs(phase.users - previous) / phase.duration_s
            spawn_rate = max(2.0 * slope, 1.0)
        else:
            users = phase.users
            spawn_rate = max(self.step_spawn_rate, abs(phase.users - previous) / 5)
        return Tick(users, round(spawn_rate, 2), phase.user_classes, phase)


def _split(duration_s: int, *fractions: float) -> list[int]:
    """Cut a duration into whole-second parts in these proportions (the last takes the rest)."""
    parts = [max(1, math.floor(duration_s * fraction)) for fraction in fractions[:-1]]
    return [*parts, max(1, duration_s - sum(parts))]


def steady(users: int, duration_s: int) -> LoadPlan:
    """A short ramp, then a constant load: the everyday baseline and the CI smoke run."""
    ramp, hold = _split(duration_s, min(0.1, 10 / duration_s), 1.0)
    return LoadPlan(
        "steady",
        (Phase("ramp-up", ramp, users, ramp=True), Phase("steady", hold, users)),
    )


def campaign_spike(users: int, duration_s: int) -> LoadPlan:
    """Baseline, 10x within a minute, sustain, decay back to baseline, recover.

    `users` is the peak; the baseline is a tenth of it.
    """
    baseline = max(1, round(users / SPIKE_FACTOR))
    ramp_share = min(0.15, 60 / duration_s)  # "10x within a minute"
    parts = _split(duration_s, 0.25, ramp_share, 0.35, 0.15, 1.0)
    return LoadPlan(
        "campaign-spike",
        (
            Phase("baseline", parts[0], baseline),
            Phase("ramp", parts[1], users, ramp=True),
            Phase("spike", parts[2], users),
            Phase("decay", parts[3], baseline, ramp=True),
            Phase("recovery", parts[4], baseline),
        ),
    )


def flash_sale(users: int, duration_s: int, *, stock: int = 150) -> LoadPlan:
    """A baseline, then at a set time one hot SKU goes live and a crowd joins for it."""
    baseline = max(1, round(users / 4))
    parts = _split(duration_s, 0.3, 0.45, 1.0)
    return LoadPlan(
        "flash-sale",
        (
            Phase("before-sale", parts[0], baseline),
            Phase(
                "sale-live",
                parts[1],
                users,
                user_classes=FLASH_MIX,
                flash_sale_stock=stock,
            ),
            Phase("after-sale", parts[2], baseline),
        ),
    )


def partial_outage(users: int, duration_s: int) -> LoadPlan:
    """A campaign spike during which optional and slow dependencies fail, then recover."""
    baseline = max(1, round(users / SPIKE_FACTOR))
    ramp_share = min(0.15, 60 / duration_s)
    parts = _split(duration_s, 0.2, ramp_share, 0.15, 0.25, 0.1, 1.0)
    return LoadPlan(
        "partial-outage",
        (
            Phase("baseline", parts[0], baseline, faults="healthy"),
            Phase("ramp", parts[1], users, ramp=True),
            Phase("spike", parts[2], users),
            Phase("outage", parts[3], users, faults="partial-outage"),
            Phase("spike-recovered", parts[4], users, faults="healthy"),
            Phase("decay", parts[5], baseline, ramp=True),
        ),
    )


def deploy_during_spike(users: int, duration_s: int) -> LoadPlan:
    """A campaign spike with a deploy at its peak (`manage.py deploy`, run by the runner
    when the `deploy` phase starts): the spike before it is what the deploy is judged by."""
    baseline = max(1, round(users / SPIKE_FACTOR))
    ramp_share = min(0.15, 60 / duration_s)
    parts = _split(duration_s, 0.15, ramp_share, 0.25, 0.25, 0.1, 1.0)
    return LoadPlan(
        "deploy-during-spike",
        (
            Phase("baseline", parts[0], baseline),
            Phase("ramp", parts[1], users, ramp=True),
            Phase("spike", parts[2], users),
            Phase("deploy", parts[3], users),
            Phase("spike-after", parts[4], users),
            Phase("decay", parts[5], baseline, ramp=True),
        ),
    )


DRIFT_RATE = 0.05
DRIFT_KINDS = ("erp-stock", "pim-prices", "payment-captures", "erp-orders")


def reconcile_drift(users: int, duration_s: int) -> LoadPlan:
    """Steady traffic; a third of the way in, every system of record drifts by 5%.

    Orders placed before the drift give the gateway and the ERP records to lose; the
    runner reconciles after the load and checks every injected difference was found.
    """
    before, after = _split(duration_s, 0.35, 1.0)
    drift = tuple((kind, DRIFT_RATE) for kind in DRIFT_KINDS)
    return LoadPlan(
        "reconcile-drift",
        (
            Phase("before-drift", before, users, ramp=True),
            Phase("drifted", after, users, drift=drift),
        ),
    )


def soak(users: int, duration_s: int) -> LoadPlan:
    """A steady load held long enough for leaks, queue growth and cache churn to show."""
    ramp, hold = _split(duration_s, min(0.05, 60 / duration_s), 1.0)
    return LoadPlan("soak", (Phase("ramp-up", ramp, users, ramp=True), Phase("soak", hold, users)))


def catalog_feed(users: int, duration_s: int) -> LoadPlan:
    """The steady everyday mix with a partner's catalog feed paging through the API."""
    ramp, hold = _split(duration_s, min(0.1, 10 / duration_s), 1.0)
    return LoadPlan(
        "catalog-feed",
        (
            Phase("ramp-up", ramp, users, ramp=True, user_classes=FEED_MIX),
            Phase("steady", hold, users, user_classes=FEED_MIX),
        ),
    )


def release(users: int, duration_s: int) -> LoadPlan:
    """A campaign's browsing, warmed up, then a release is deployed under it: does the
    store notice? Browsing only (`BROWSE_MIX`): with the everyday mix's writes retiring
    hot pages all the time, the caches answered only 15-20% of lookups before the release
    anyway, and retiring them all changed little.

    The run starts cold, so `before-release` follows a warm-up: the release is compared
    with a warm store, not with the cold start.
    """
    ramp, warm, before, after = _split(duration_s, min(0.1, 10 / duration_s), 0.35, 0.2, 1.0)
    return LoadPlan(
        "release",
        (
            Phase("ramp-up", ramp, users, ramp=True, user_classes=BROWSE_MIX),
            Phase("warm-up", warm, users, user_classes=BROWSE_MIX),
            Phase("before-release", before, users, user_classes=BROWSE_MIX),
            Phase("after-release", after, users, release=True, user_classes=BROWSE_MIX),
        ),
    )


def early_late(name: str, mix: tuple[str, ...] = DEFAULT_MIX) -> Callable[[int, int], LoadPlan]:
    """A steady load cut into an early and a late half, for gates comparing the two."""

    def plan(users: int, duration_s: int) -> LoadPlan:
        ramp, early, late = _split(duration_s, min(0.1, 10 / duration_s), 0.4, 1.0)
        return LoadPlan(
            name,
            (
                Phase("ramp-up", ramp, users, ramp=True, user_classes=mix),
                Phase("early", early, users, user_classes=mix),
                Phase("late", late, users, user_classes=mix),
            ),
        )

    return plan


SHAPES: dict[str, Callable[[int, int], LoadPlan]] = {
    "steady": steady,
    "campaign-spike": campaign_spike,
    "flash-sale": flash_sale,
    "partial-outage": partial_outage,
    "deploy-during-spike": deploy_during_spike,
    "soak": soak,
    "catalog-feed": catalog_feed,
    "release": release,
    "rollout": early_late("rollout"),
    "search-heavy": early_late("search-heavy", ("SearchUser", "ApiSearchUser", "BrowseUser")),
    "checkout-heavy": early_late("checkout-heavy", ("BuyerUser", "CartUser", "BrowseUser")),
    "reconcile-drift": reconcile_drift,
}


def plan_for(shape: str, *, users: int, duration_s: int) -> LoadPlan:
    try:
        factory = SHAPES[shape]
    except KeyError:
        raise KeyError(f"no load shape {shape!r}; known shapes: {', '.join(SHAPES)}") from None
    if users < 1 or duration_s < 2:
        raise ValueError("a load plan needs at least 1 user and 2 seconds")
    plan = factory(users, duration_s)
    if plan.duration_s != duration_s:
        raise ValueError(f"{shape} needs more than {duration_s} s for its phases")
    return plan
