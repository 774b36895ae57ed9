"""Release flags as code: what a flag is, its exposure steps and its gate criteria.

A flag's *definition* (kind, routes, steps, criteria, salt) is declared in code by the
app that owns the change, in `<app>/releases.py`, so it is reviewed with the change. Its
*state* (status, current step, exposure) is data in `releases.ReleaseFlag`, driven by
people and by the gate. A flag may only change behaviour on the routes it declares;
everywhere else it is off.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field, replace
from enum import StrEnum

from django.apps import apps

from releases.hashing import BASIS_POINTS


class FlagKind(StrEnum):
    # A new behaviour exposed step by step to a growing share of subjects, under a gate.
    ROLLOUT = "rollout"
    # A non-critical feature served to everyone until someone with the stop authority
    # (or a degraded mode) switches it off; no gate, no cohorts.
    KILL_SWITCH = "kill_switch"


@dataclass(frozen=True)
class Step:
    """One exposure step: how many subjects, and what it must show before the next one."""

    basis_points: int
    min_dwell_s: int = 60  # at least this long at this exposure
    min_samples: int = 200  # canary requests observed at this exposure

    def __post_init__(self) -> None:
        if not 0 < self.basis_points <= BASIS_POINTS:
            raise ValueError(f"a step exposes 1..{BASIS_POINTS} basis points")

    @property
    def percent(self) -> float:
        return self.basis_points / 100


DEFAULT_STEPS = (
    Step(100),  # 1%
    Step(500),  # 5%
    Step(2_500),  # 25%
    Step(5_000),  # 50%
    Step(10_000),  # 100%
)


@dataclass(frozen=True)
class Criteria:
    """What an interval of canary traffic must show, against control, to pass.

    p95 ratio up to `max_p95_ratio` passes; above `fail_p95_ratio` fails; between the
    two the interval is inconclusive (too close to call). Rates (errors, timeouts) fail
    above their absolute limit, or above control's rate times `max_rate_ratio` plus
    `rate_slack` (the slack keeps one error in a quiet interval from failing a step).
    """

    max_p95_ms: float | None = None  # absolute: canary p95 above it fails
    max_p95_ratio: float = 1.2
    fail_p95_ratio: float = 1.5
    max_error_rate: float = 0.01
    max_timeout_rate: float = 0.01
    max_rate_ratio: float = 2.0
    rate_slack: float = 0.002
    # Checkout completion: canary's completion ratio at least this share of control's,
    # judged only once both cohorts started `min_checkouts` checkouts in the interval.
    min_completion_ratio: float = 0.9
    min_checkouts: int = 10
    # An interval closes once the canary served this many requests (or after
    # max_interval_s: then it is inconclusive for lack of samples).
    min_interval_samples: int = 30
    max_interval_s: float = 60.0
    passes_to_exit: int = 3  # consecutive passing intervals before a step may end
    max_failures: int = 3  # failed intervals (cumulative, whole exposure) before a stop
    max_inconclusive: int = 3  # consecutive inconclusive intervals before a hold

    def for_campaign(self) -> Criteria:
        """Return the stricter criteria that apply during a declared campaign window.

        Half the tolerated slowdown and error budget, one failure fewer before a stop,
        one more passing interval before a step ends.
        """
        return replace(
            self,
            max_p95_ms=self.max_p95_ms * 0.8 if self.max_p95_ms is not None else None,
            max_p95_ratio=1 + (self.max_p95_ratio - 1) / 2,
            fail_p95_ratio=1 + (self.fail_p95_ratio - 1) / 2,
            max_error_rate=self.max_error_rate / 2,
            max_timeout_rate=self.max_timeout_rate / 2,
            max_failures=max(1, self.max_failures - 1),
            passes_to_exit=self.passes_to_exit + 1,
        )


@dataclass(frozen=True)
class FlagSpec:
    name: str
    owner: str  # the app that owns the change (and may stop it)
    description: str
    routes: frozenset[str]  # view names the flag may affect; off everywhere else
    kind: FlagKind = FlagKind.ROLLOUT
    steps: tuple[Step, ...] = DEFAULT_STEPS
    criteria: Criteria = field(default_factory=Criteria)
    salt: str = ""  # defaults to the name; change it to reshuffle every subject

    def __post_init__(self) -> None:
        bps = [step.basis_points for step in self.steps]
        if not bps or bps != sorted(set(bps)):
            raise ValueError(f"{self.name}: steps must strictly increase")
        if self.kind is FlagKind.KILL_SWITCH and bps != [BASIS_POINTS]:
            raise ValueError(f"{self.name}: a kill switch has one step, 100%")
        if not self.salt:
            object.__setattr__(self, "salt", self.name)

    @property
    def default_exposure_bp(self) -> int:
        """Exposure with no state recorded: kill switches serve their feature."""
        return BASIS_POINTS if self.kind is FlagKind.KILL_SWITCH else 0


FLAGS: dict[str, FlagSpec] = {}


def flag_declare(spec: FlagSpec) -> FlagSpec:
    """Register a flag definition (in `<app>/releases.py`, imported at start)."""
    existing = FLAGS.get(spec.name)
    if existing is not None and existing != spec:
        raise ValueError(f"release flag {spec.name!r} is already declared differently")
    FLAGS[spec.name] = spec
    return spec


def flag_spec(name: str) -> FlagSpec:
    try:
        return FLAGS[name]
    except KeyError:
        known = ", ".join(sorted(FLAGS)) or "none"
        raise KeyError(f"no release flag {name!r}; declared: {known}") from None


def autodiscover() -> None:
    """Import every installed app's `releases` module, so every flag is declared."""
    for config in apps.get_app_configs():
        if importlib.util.find_spec(f"{config.name}.releases") is not None:
            importlib.import_module(f"{config.name}.releases")
