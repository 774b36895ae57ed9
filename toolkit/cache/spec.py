"""What an owning app declares about one cache namespace."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Stampede(StrEnum):
    """How a namespace keeps many requests from recomputing one entry at once."""

    # One request recomputes under a lock (atomic add, with a timeout); the others wait
    # for its result. XFetch refreshes a hot entry early, before it expires.
    SINGLE_FLIGHT = "single-flight + XFetch early refresh"
    # As SINGLE_FLIGHT, and past its TTL the entry is still served (within `grace`) to
    # everyone but the one request that recomputes it.
    SINGLE_FLIGHT_STALE = "single-flight + XFetch + serve stale while revalidating"
    # Entries read in batches (a page's variants): the misses of a request are computed
    # in one query; jittered TTLs spread expiries, so no single key is hot on its own.
    BATCH = "batched misses, one query per request; jittered TTL"


# An audit hook: given sampled entries {key: cached value}, return the system of record's
# current value for each key it can check (absent keys are not checked).
AuditHook = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class CacheSpec:
    """One cache namespace: who owns it, what it holds, and when it may be wrong.

    `staleness_tolerance` is how long (seconds) an entry may disagree with the system of
    record. 0 means writes must invalidate it (generation bump on commit); a namespace
    that tolerates staleness must also expire within its tolerance.
    """

    namespace: str
    owner: str
    entity: str
    key_schema: str
    ttl: int
    invalidated_by: tuple[str, ...]
    staleness_tolerance: int
    stampede: Stampede
    # TTLs are drawn from [ttl * (1 - jitter), ttl], so entries written together do not
    # all expire together.
    jitter: float = 0.1
    # Seconds past the TTL an entry may still be served while one request recomputes.
    grace: int = 0
    # Other namespaces whose generation is part of this namespace's keys: a bump there
    # invalidates entries here (a page embeds prices, so a price bump retires the page).
    depends_on: tuple[str, ...] = ()
    # Namespaces whose entries this one tracks key by key: each entry records which of
    # their keys its compute read (the owner's selectors say so with `reads`), and an
    # invalidation that names its keys retires only the entries that read one of them.
    # A page that shows 24 prices dies with a change to one of those 24, not to any price.
    # An invalidation without keys still retires every entry.
    tracks: tuple[str, ...] = ()
    # Entries keyed by the very keys the owner names when it invalidates (a price per
    # variant id): an invalidation that names keys retires only their entries, each of
    # which records its key's counter as it read it; one that names none retires all.
    # Without it, a price written every second emptied every price entry every second.
    keyed: bool = False
    # XFetch's beta: higher refreshes earlier; 0 turns early refresh off.
    early_refresh_beta: float = 1.0
    # Seconds a recompute may hold its lock before another request may try.
    lock_timeout: float = 10.0
    audit: AuditHook | None = None
    notes: str = ""
    # The type of what an entry holds (`ProductDetail | None`, `tuple[CategoryRef, ...]`):
    # its fingerprint is part of every key (toolkit.cache.shape), so a release that
    # changes it reads the old entries as clean misses and the old code never reads the
    # new ones. `shape_revision` is for a change the types do not show (what a field means).
    shape: Any = None
    shape_revision: int = 0

    def __post_init__(self) -> None:
        if not self.namespace.startswith(f"{self.owner}.") or ":" in self.namespace:
            raise ValueError(f"namespace {self.namespace!r} must be '{self.owner}.<name>'")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"{self.namespace}: jitter must be in [0, 1)")
        if self.staleness_tolerance == 0 and not self.invalidated_by:
            raise ValueError(f"{self.namespace}: no staleness tolerated, so name the writes")
        if set(self.tracks) & set(self.depends_on):
            raise ValueError(f"{self.namespace}: a namespace is tracked or depended on, not both")
        if self.keyed and self.stampede is not Stampede.BATCH:
            raise ValueError(f"{self.namespace}: only batch entries are keyed by what retires them")
        if self.tracks and self.stampede is Stampede.BATCH:
            raise ValueError(f"{self.namespace}: only single-flight entries track their reads")
        if self.staleness_tolerance and self.ttl + self.grace > self.staleness_tolerance:
            raise ValueError(
                f"{self.namespace}: entries live up to {self.ttl + self.grace}s, longer than "
                f"the {self.staleness_tolerance}s of staleness it tolerates"
            )


@dataclass(frozen=True)
class StateSpec:
    """State an app shares through the cache server, not a cache of anything: circuit
    breakers, release flags. No generation and no system of record to compare with;
    declared so the audit counts its keys as owned, and still checks that they expire.
    """

    prefix: str  # every key of it starts with this, e.g. "integrations:breaker:"
    owner: str
    entity: str
    expiry: str  # how its keys expire, in words
