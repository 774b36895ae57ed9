"""Fault profiles: how a simulated dependency misbehaves, decided per request.

Every dependency owns a seeded random stream, and each request draws the same three
numbers from it whatever the profile says, so a given sequence of requests meets the same
faults on every run with the same seed. `reset` rewinds every stream to the seed.
"""

import math
import random
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

# The z-score of the 99th percentile: sigma of a lognormal fitted to a p50 and a p99.
_Z99 = NormalDist().inv_cdf(0.99)
# A lognormal tail is unbounded; nothing in the simulator may sleep past this.
LATENCY_CAP_S = 30.0
# How long a hanging request holds its connection open without an answer.
HANG_BOUND_S = 60.0
MAX_DRIP_MS = 60_000


class InvalidProfile(ValueError):
    """A fault profile with unknown fields or values out of range."""


@dataclass(frozen=True)
class FaultProfile:
    """How one dependency misbehaves. The default profile is healthy.

    latency_ms  (p50, p99) of a lognormal added before the answer
    error_rate  share of requests answered 503 without being processed
    hang        hold every request open, unanswered and unprocessed, up to HANG_BOUND_S
    down        answer every request 503 at once: what a load balancer says for a dead
                backend (a refused connection is what a stopped simulator gives)
    reset_rate  share of connections reset (TCP RST) without an answer or processing
    drip_ms     send each answer's body in small pieces spread over this many ms
    fail_next   the next N requests answer 503, then the profile applies: a dependency
                recovering from a blip
    """

    latency_ms: tuple[float, float] | None = None
    error_rate: float = 0.0
    hang: bool = False
    down: bool = False
    reset_rate: float = 0.0
    drip_ms: int = 0
    fail_next: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "FaultProfile":
        """Build a profile from control-API JSON; fields left out stay healthy."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise InvalidProfile(f"unknown fields: {', '.join(sorted(unknown))}")
        fields: dict[str, Any] = {}
        if (latency := data.get("latency_ms")) is not None:
            fields["latency_ms"] = _latency(latency)
        for name in ("error_rate", "reset_rate"):
            if name in data:
                fields[name] = _rate(name, data[name])
        for name in ("hang", "down"):
            if name in data:
                if not isinstance(data[name], bool):
                    raise InvalidProfile(f"{name} must be true or false")
                fields[name] = data[name]
        if "drip_ms" in data:
            fields["drip_ms"] = _count("drip_ms", data["drip_ms"], MAX_DRIP_MS)
        if "fail_next" in data:
            fields["fail_next"] = _count("fail_next", data["fail_next"], 10**6)
        return cls(**fields)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["latency_ms"] = list(self.latency_ms) if self.latency_ms else None
        return data


def _latency(value: Any) -> tuple[float, float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise InvalidProfile("latency_ms must be [p50, p99] in milliseconds")
    p50, p99 = float(value[0]), float(value[1])
    if not 0 < p50 <= p99 <= LATENCY_CAP_S * 1000:
        raise InvalidProfile("latency_ms needs 0 < p50 <= p99 <= 30000")
    return p50, p99


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidProfile(f"{name} must be a number from 0 to 1")
    return float(value)


def _count(name: str, value: Any, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidProfile(f"{name} must be a whole number from 0 to {maximum}")
    return value


@dataclass(frozen=True)
class Decision:
    """What happens to one request. Checked in this order: down, reset, hang, delay, error."""

    down: bool = False
    reset: bool = False
    hang: bool = False
    delay_s: float = 0.0
    error: bool = False
    drip_s: float = 0.0

    @property
    def outcome(self) -> str:
        for name in ("down", "reset", "hang", "error"):
            if getattr(self, name):
                return name
        return "served"


class FaultBox:
    """One dependency's profile, random stream and counters; safe across threads."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self._seed = f"{seed}:{name}"  # each dependency its own stream, stable per seed
        self._lock = threading.Lock()
        self._rng = random.Random(self._seed)
        self._profile = FaultProfile()
        self._failures_left = 0
        self._counts: Counter[str] = Counter()

    def set(self, profile: FaultProfile) -> None:
        with self._lock:
            self._profile = profile
            self._failures_left = profile.fail_next

    def reset(self) -> None:
        """Go healthy, rewind the random stream and zero the counters."""
        with self._lock:
            self._profile = FaultProfile()
            self._failures_left = 0
            self._rng.seed(self._seed)
            self._counts.clear()

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {**self._profile.to_json(), "fail_next": self._failures_left}

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"requests": self._counts.total(), **self._counts}

    def decide(self) -> Decision:
        """Draw this request's fate from the profile and count it."""
        with self._lock:
            profile = self._profile
            # Always three draws, whatever the profile, so changing one knob never
            # shifts the sequence another knob sees.
            reset_draw, error_draw = self._rng.random(), self._rng.random()
            z = self._rng.normalvariate(0.0, 1.0)
            forced_failure = self._failures_left > 0
            if forced_failure:
                self._failures_left -= 1
            decision = Decision(
                down=profile.down,
                reset=reset_draw < profile.reset_rate,
                hang=profile.hang,
                delay_s=_lognormal_s(profile.latency_ms, z),
                error=forced_failure or error_draw < profile.error_rate,
                drip_s=profile.drip_ms / 1000,
            )
            self._counts[decision.outcome] += 1
            return decision


def _lognormal_s(latency_ms: tuple[float, float] | None, z: float) -> float:
    """Map a standard normal draw onto the lognormal with the given p50 and p99."""
    if latency_ms is None:
        return 0.0
    p50, p99 = latency_ms
    sigma = (math.log(p99) - math.log(p50)) / _Z99
    return min(math.exp(math.log(p50) + sigma * z) / 1000, LATENCY_CAP_S)


class FaultBook:
    """Every dependency's FaultBox, by name."""

    def __init__(self, names: Iterable[str], seed: int) -> None:
        self.seed = seed
        self.boxes = {name: FaultBox(name, seed) for name in names}

    def reset(self) -> None:
        for box in self.boxes.values():
            box.reset()

    def preset_apply(self, profiles: Mapping[str, Mapping[str, Any]]) -> None:
        """Make every dependency healthy, then give the named ones these profiles."""
        self.reset()
        for name, profile in profiles.items():
            self.boxes[name].set(FaultProfile.from_json(profile))

    def status(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "profiles": {name: box.status() for name, box in self.boxes.items()},
        }

    def stats(self) -> dict[str, Any]:
        return {name: box.stats() for name, box in self.boxes.items()}
