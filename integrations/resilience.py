"""Circuit breakers and bulkheads around every dependency call, with their metrics.

Each dependency declares a `DependencySpec`: how much the store needs it (criticality),
when its breaker opens, how many probes it lets through half-open, and how many calls
one process may have in flight. `dependency_call` wraps one upstream call in all of it:

    breaker (shared by every process) -> bulkhead (this process) -> the call -> metrics

Why not pybreaker: its `CircuitBreaker.call` holds one lock for the whole call, so calls
through a breaker run one at a time in a process; half-open lets every caller through,
not a limited number of probes; and its shared storage needs a raw Redis client, while
the embedded profile shares state through diskcache. The breaker below keeps its state
in the Django cache, which is shared across gunicorn workers in both profiles (Redis in
services, diskcache files in embedded), and adds nothing the call path has to wait on
but one cache read.

`INTEGRATIONS_RESILIENCE=0` switches breakers and bulkheads off (the calls keep their
timeouts and retries): the comparison the benchmark makes. The failure-mode lab's
`integrations-blocking` mode goes further for the dependencies a page can do without
(`_unprotected_naive`).
"""

import logging
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import httpx
from django.conf import settings

from integrations import metrics
from integrations.caches import BREAKERS
from integrations.upstream import UpstreamTimeout, UpstreamUnavailable, library_defaults_naive
from toolkit.lab import mode_on

logger = logging.getLogger(__name__)

# Breaker state expires a day after its last write: long past any reset timeout, so an
# idle dependency's breaker is judged afresh, and the cache audit finds no key without a TTL.
STATE_TTL_S = 24 * 3600
T = TypeVar("T")


class Criticality(StrEnum):
    """How much a request needs a dependency, which decides what its failure does."""

    CRITICAL = "critical"  # no answer, no deal: fail closed with a clear error
    DEGRADABLE = "degradable"  # serve a fallback (the last known answer) and carry on
    OPTIONAL = "optional"  # leave the widget out
    BACKGROUND = "background"  # called from tasks only: a failure defers the task


def wall_clock() -> float:
    """Return the time breakers compare; tests replace it to skip an open period."""
    return time.time()


@dataclass(frozen=True)
class DependencySpec:
    """What the store expects of one dependency, and how it protects itself from it."""

    name: str
    criticality: Criticality
    fallback: str  # what the store does without it, for the README and the ops view
    failure_threshold: int = 5  # consecutive failures (across processes) that open it
    reset_timeout_s: float = 10.0  # open this long, then half-open
    half_open_probes: int = 1  # calls let through per half-open window
    max_concurrent: int = 4  # in flight per process; more wait, then are rejected
    bulkhead_wait_s: float = 0.05


class DependencyUnavailable(Exception):
    """The store did not call the dependency: its breaker is open or its bulkhead full."""

    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(f"{dependency}: {reason}")
        self.dependency = dependency
        self.reason = reason


class CircuitOpen(DependencyUnavailable):
    def __init__(self, dependency: str) -> None:
        super().__init__(dependency, "circuit open")


class BulkheadFull(DependencyUnavailable):
    def __init__(self, dependency: str) -> None:
        super().__init__(dependency, "too many calls in flight")


@dataclass(frozen=True)
class Permit:
    """Leave to make one call: a probe when half-open; `failures` seen when closed."""

    probe: bool
    opened_at: float | None
    failures: int


class Breaker:
    """A circuit breaker whose state lives in the Django cache, shared by all processes.

    Closed: calls pass; each failure bumps a shared counter, each success clears it, and
    `failure_threshold` in a row open it. Open: calls fail at once with CircuitOpen.
    After `reset_timeout_s` it is half-open: `half_open_probes` calls per window pass
    (counted with an atomic cache increment, so two workers never both probe past the
    limit); a probe's success closes it, its failure opens it for another period. A probe
    that never reports (its worker died) frees its slot when the window expires.
    """

    def __init__(self, spec: DependencySpec, *, clock: Callable[[], float] | None = None) -> None:
        self.spec = spec
        # Wall clock, not monotonic: the timestamps are compared across processes.
        self.clock = clock or (lambda: wall_clock())
        # Suffixes of the shared state's keys (`integrations:breaker:<name>:...`).
        self._opened_key = f"{spec.name}:opened_at"
        self._failures_key = f"{spec.name}:failures"
        self._probes_prefix = f"{spec.name}:probes"

    def state(self) -> str:
        """Return closed, half_open or open, as every process sees it now."""
        opened_at = BREAKERS.get(self._opened_key)
        return self._state(opened_at)

    def _state(self, opened_at: float | None) -> str:
        if opened_at is None:
            return "closed"
        if self.clock() < opened_at + self.spec.reset_timeout_s:
            return "open"
        return "half_open"

    def before_call(self) -> Permit:
        """Return a permit for one call, or raise CircuitOpen. One cache read when closed."""
        found = BREAKERS.get_many([self._opened_key, self._failures_key])
        opened_at = found.get(self._opened_key)
        state = self._state(opened_at)
        metrics.breaker_state_set(dependency=self.spec.name, state=state)
        if state == "closed":
            return Permit(probe=False, opened_at=None, failures=found.get(self._failures_key, 0))
        if state == "open":
            raise CircuitOpen(self.spec.name)
        assert opened_at is not None  # half open: it was opened
        window = int((self.clock() - opened_at) // self.spec.reset_timeout_s)
        probes_key = f"{self._probes_prefix}:{opened_at}:{window}"
        BREAKERS.add(probes_key, 0, timeout=self.spec.reset_timeout_s * 2)
        taken = _incr(probes_key)
        # No count (the cache is busy or lost the key) is no probe: staying open is safe.
        if taken is None or taken > self.spec.half_open_probes:
            raise CircuitOpen(self.spec.name)
        return Permit(probe=True, opened_at=opened_at, failures=0)

    def record_success(self, permit: Permit) -> None:
        if permit.probe:
            if BREAKERS.get(self._opened_key) == permit.opened_at:
                BREAKERS.delete(self._opened_key, self._failures_key)
                logger.info("%s recovered: circuit closed", self.spec.name)
            metrics.breaker_state_set(dependency=self.spec.name, state="closed")
        elif permit.failures:
            BREAKERS.set(self._failures_key, 0, timeout=STATE_TTL_S)

    def record_failure(self, permit: Permit) -> None:
        if permit.probe:
            BREAKERS.set(self._opened_key, self.clock(), timeout=STATE_TTL_S)
            metrics.breaker_state_set(dependency=self.spec.name, state="open")
            logger.warning("%s still failing: circuit open again", self.spec.name)
            return
        BREAKERS.add(self._failures_key, 0, timeout=STATE_TTL_S)
        failures = _incr(self._failures_key) or 1
        # add, not set: of many workers failing at once, the first opener's time counts.
        if failures >= self.spec.failure_threshold and BREAKERS.add(
            self._opened_key, self.clock(), timeout=STATE_TTL_S
        ):
            metrics.breaker_state_set(dependency=self.spec.name, state="open")
            logger.warning("%s failed %d times in a row: circuit open", self.spec.name, failures)

    def reset(self) -> None:
        """Close the breaker and forget its failures (ops and tests)."""
        BREAKERS.delete(self._opened_key, self._failures_key)


def _incr(suffix: str) -> int | None:
    """Increment a shared counter atomically; None if the cache could not say."""
    try:
        value = BREAKERS.incr(suffix)
    except ValueError:  # expired between add and incr
        return None
    # diskcache answers None when its lock times out; django-redis with
    # IGNORE_EXCEPTIONS too when Redis is away.
    return value if isinstance(value, int) else None


class Bulkhead:
    """Cap the calls to one dependency this process has in flight.

    A dependency that hangs can then hold at most `max_concurrent` threads; the next
    caller waits `bulkhead_wait_s` for a slot and is turned away without calling.
    """

    def __init__(self, spec: DependencySpec) -> None:
        self.spec = spec
        self._slots = threading.BoundedSemaphore(spec.max_concurrent)

    @contextmanager
    def slot(self):
        if not self._slots.acquire(timeout=self.spec.bulkhead_wait_s):
            raise BulkheadFull(self.spec.name)
        try:
            yield
        finally:
            self._slots.release()


_bulkheads: dict[str, Bulkhead] = {}
_bulkheads_lock = threading.Lock()


def bulkhead_for(spec: DependencySpec) -> Bulkhead:
    """Return this process's bulkhead for a dependency, created on first use."""
    bulkhead = _bulkheads.get(spec.name)
    if bulkhead is None:
        with _bulkheads_lock:
            bulkhead = _bulkheads.setdefault(spec.name, Bulkhead(spec))
    return bulkhead


def breaker_for(spec: DependencySpec) -> Breaker:
    return Breaker(spec)


def dependency_call(spec: DependencySpec, call: Callable[[], T]) -> T:
    """Make one call to a dependency through its breaker and bulkhead, and measure it.

    Raise DependencyUnavailable without calling when the breaker is open or the bulkhead
    full; otherwise return what `call` returns or re-raise what it raises. Only
    UpstreamUnavailable and UpstreamTimeout count against the breaker: a 4xx reply is
    the dependency working.
    """
    from integrations.fanout import dependency_called  # the page budget's bookkeeping

    dependency_called(spec.name)
    if spec.criticality in _PAGE_OPTIONAL and mode_on("integrations-blocking"):
        return _unprotected_naive(spec, call)
    if not settings.INTEGRATIONS_RESILIENCE:
        return _measured(spec, call)
    breaker = breaker_for(spec)
    try:
        permit = breaker.before_call()
    except CircuitOpen:
        metrics.outcome_count(dependency=spec.name, outcome="short_circuited")
        raise
    try:
        with bulkhead_for(spec).slot():
            result = _measured(spec, call)
    except BulkheadFull:
        metrics.outcome_count(dependency=spec.name, outcome="rejected")
        raise
    except (UpstreamUnavailable, UpstreamTimeout):
        breaker.record_failure(permit)
        raise
    breaker.record_success(permit)
    return result


# What a page can render without: the dependencies the lab's naive path leaves bare.
_PAGE_OPTIONAL = frozenset({Criticality.OPTIONAL, Criticality.DEGRADABLE})


def _unprotected_naive(spec: DependencySpec, call: Callable[[], T]) -> T:
    """The lab's naive path (`integrations-blocking`): the call with nothing around it.

    No breaker and no bulkhead, and the HTTP client's own defaults instead of the
    dependency's policy (`upstream.library_defaults_naive`: one attempt, httpx's 5 s
    per phase, no total budget): what a team ships when the widget worked in every
    test. While the dependency hangs every request waits the full default, every worker
    ends up waiting on it, and nothing stops the calls, since no breaker counts the
    failures. Never used unless the lab is on.
    """
    with library_defaults_naive():
        return _measured(spec, call)


def _measured(spec: DependencySpec, call: Callable[[], T]) -> T:
    started = time.monotonic()
    try:
        result = call()
    except (UpstreamUnavailable, UpstreamTimeout) as failure:
        outcome = "timeout" if _is_timeout(failure) else "error"
        metrics.outcome_count(dependency=spec.name, outcome=outcome)
        raise
    finally:
        metrics.dependency_latency.labels(dependency=spec.name).observe(time.monotonic() - started)
    metrics.outcome_count(dependency=spec.name, outcome="ok")
    return result


def _is_timeout(failure: BaseException) -> bool:
    return isinstance(failure, UpstreamTimeout) or isinstance(
        failure.__cause__, httpx.TimeoutException
    )


def fallback_served(spec: DependencySpec, reason: Any = None) -> None:
    """Count a fallback served in place of an answer from `spec`, and say why at debug."""
    metrics.outcome_count(dependency=spec.name, outcome="fallback")
    logger.debug("%s: fallback served (%s)", spec.name, reason)
