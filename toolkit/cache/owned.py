"""Owned cache namespaces: generational keys, single-flight recompute, early refresh.

Keys are `<namespace>:v<generation>s<shape>:<key>`, where the generation digests the
counters of the namespace and of every namespace it depends on, and the shape is the
fingerprint of the cached type (`toolkit.cache.shape`): code that caches another shape
of value builds other keys, so old and new code never read each other's entries. The
owner's write services bump the counter in `transaction.on_commit`, so the next read
anywhere (any worker, any host) builds a new key and misses; a rolled-back write bumps
nothing. Old entries are never deleted one by one: they are unreachable and expire on
their own.

An entry is stored as `(value, stored_at, fresh_until, compute_seconds)`. Past
`fresh_until` it is stale; it lives `grace` seconds longer so that one request can
recompute it while the others are served the stale value.

A namespace that `tracks` another (a page tracks prices) appends what its compute read:
`(epoch, ((key counter, its value when read), ...))`. An owner that names the keys it
changed (`invalidate_on_commit(keys)`) moves only their counters, and an entry is current
while every counter it read is unchanged: a page dies with a change to a price it shows,
not to any price. Checking costs nothing while the epoch has not moved since the entry
was computed (or since this process last checked it), and one read when it has.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import sys
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from operator import methodcaller
from types import FrameType
from typing import Any, Generic, TypeVar

from django.db import transaction

from toolkit.cache import store
from toolkit.cache.metrics import CacheEvent, cache_event
from toolkit.cache.shape import shape_fingerprint
from toolkit.cache.spec import CacheSpec
from toolkit.cache.tracking import TrackedKey, fence
from toolkit.lab import mode_on
from toolkit.tracing import store_span

logger = logging.getLogger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)  # DoNotCache is read-only
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Generation counters outlive every entry; when one is evicted anyway it restarts from
# the clock in microseconds, which is past any value it reached by incrementing.
GENERATION_TTL = 30 * 24 * 3600
# Moves after every bump of any namespace (toolkit/caches.py declares it). A process keeps
# the generations it last read and re-reads them only when the epoch moved: one read per
# lookup instead of one per dependency (diskcache has no multi-get; Redis saves bytes).
EPOCH_KEY = "toolkit:cache-epoch"
# Read once per move: this process keeps it until the cache says it moved.
_epoch = TrackedKey(EPOCH_KEY)
WAIT_POLL_SECONDS = 0.02
# Marks a key cached as "no value" inside get_many_or_compute; never stored.
_ABSENT = object()
# (namespace, shape) -> (the epoch when read, its generations, their version); per
# process, threads share it.
_generations_seen: dict[tuple[str, str], tuple[int, tuple[int, ...], str]] = {}
# A bulk write that names more keys than this retires every entry instead: one counter
# write, rather than thousands, and the entries that read none of them recompute once.
SCOPED_INVALIDATION_MAX = 500
# (full key, stored_at) -> the epoch at which this process last found the entry's reads
# current; per process, bounded by clearing (a cleared entry costs one more read).
_reads_checked: dict[tuple[str, float], int] = {}
READS_CHECKED_MAX = 20_000
# Full key -> (the epoch at which this process read the entry, the entry), for `peek`:
# while the epoch stands, a hot page is read and unpickled once, not on every hit.
# Bounded by clearing; a page is about 25 KB.
_entries_seen: dict[str, tuple[int, tuple]] = {}
ENTRIES_SEEN_MAX = 256


@dataclass
class _Reads:
    """What one tracking compute has read of the namespaces it tracks."""

    tracked: frozenset[str]
    versions: dict[str, Any] = field(default_factory=dict)  # key counter -> its value
    complete: bool = True  # False when a counter could not be read: store nothing


_reading: ContextVar[_Reads | None] = ContextVar("toolkit_cache_reading", default=None)


def _pass_on(versions: Iterable[tuple[str, Any]]) -> None:
    """Hand what an entry read to the tracking compute that embeds it, if one runs."""
    outer = _reading.get()
    if outer is None:
        return
    for counter, version in versions:
        if counter.partition(":")[0] in outer.tracked:
            outer.versions.setdefault(counter, version)


def _incr(cache: Any, key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:  # evicted: restart from the clock, past any old value
        cache.set(key, _new_generation(), GENERATION_TTL)


def _now() -> float:
    return time.time()


def _new_generation() -> int:
    return time.time_ns() // 1000


def _version_of(generations: tuple[int, ...], shape: str) -> str:
    text = ".".join(str(generation) for generation in generations)
    return f"v{hashlib.blake2b(text.encode(), digest_size=6).hexdigest()}s{shape}"


def _expiry(seconds: float) -> int:
    """The backend's timeout for an entry that lives `seconds`: whole seconds, rounded
    down. The backend's clock starts after the entry's `stored_at`, so rounded up an
    entry outlived its TTL and grace (availability's 5 s, its whole tolerance)."""
    return max(1, math.floor(seconds))


def _checked_mark(full_key: str, entry: tuple, epoch: int | None) -> None:
    if epoch is None:
        return
    if len(_reads_checked) >= READS_CHECKED_MAX:
        _reads_checked.clear()
    _reads_checked[(full_key, entry[1])] = epoch


class CacheOwnershipError(PermissionError):
    """Code outside the owning app tried to write or invalidate a namespace."""


def calling_module() -> str:
    """Name the module that called into the toolkit's cache API."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and _is_cache_api(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
    return frame.f_globals.get("__name__", "") if frame is not None else ""


def _is_cache_api(module: str) -> bool:
    # Not "toolkit.caches": that is the toolkit declaring its own state, like any app.
    return module == "toolkit.cache" or module.startswith("toolkit.cache.")


def _app_of(module: str) -> str:
    return module.partition(".")[0]


@dataclass(frozen=True)
class Peeked:
    """What `OwnedCache.peek` found: a fresh value or None, and the epoch it holds for."""

    value: Any | None
    epoch: int | None


def epoch_read() -> int | None:
    """The cache-wide epoch now; None while the cache cannot say.

    No read while it has not moved: this process keeps it (toolkit.cache.tracking).
    """
    try:
        return store.call("(epoch)", _epoch.read)
    except store.CacheUnavailable:
        return None


def epoch_moved(cache: Any) -> None:
    """This process moved (or deleted) the epoch: stop trusting its own copy, and wait
    until every other process can see the move (toolkit.cache.tracking)."""
    _epoch.forget()
    fence(cache)


def epoch_bump() -> None:
    """Move the epoch: readers that remembered state at the old one read it again.

    For shared state kept beside the caches (the release flags' snapshot): its owner
    bumps after publishing, and the page cache's fast path checks it for free.
    """

    from toolkit.replicas import fence_advance

    fence_advance()

    def bump(cache: Any) -> None:
        _incr(cache, EPOCH_KEY)
        epoch_moved(cache)

    with suppress(store.CacheUnavailable):
        store.call("(epoch)", bump)


@dataclass(frozen=True)
class DoNotCache(Generic[T_co]):
    """What a compute function returns for a result that must not be stored (a 404)."""

    value: T_co


class CacheReader:
    """Read-only view of a namespace: what any app may hold for another app's cache."""

    def __init__(self, spec: CacheSpec) -> None:
        self.spec = spec
        self.namespace = spec.namespace
        self._shape: str | None = None

    @property
    def shape(self) -> str:
        """The fingerprint of the cached type, part of every key.

        Computed on first use, not at declaration: the type hints it reads may name
        modules that are still loading while the apps declare their caches.
        """
        if self._shape is None:
            self._shape = shape_fingerprint(self.spec.shape, self.spec.shape_revision)
        return self._shape

    def generation_keys(self) -> tuple[str, ...]:
        """The counters in this namespace's keys: its own, its dependencies', and the
        wide (all keys) counters of the namespaces it tracks. A keyed namespace's own is
        its wide one too: its entries retire key by key (`CacheSpec.keyed`)."""
        own = f"{self.namespace}:gen-all" if self.spec.keyed else f"{self.namespace}:gen"
        return (
            own,
            *(f"{name}:gen" for name in self.spec.depends_on),
            *(f"{name}:gen-all" for name in self.spec.tracks),
        )

    def key_counter(self, key: object) -> str:
        return f"{self.namespace}:gen:{key}"

    def reads(self, keys: Iterable[object]) -> None:
        """Note that the code running now reads `keys` of this namespace.

        The owner's selectors call it before they read (from the cache or the database),
        so an entry that tracks this namespace records them. Free when no such entry is
        computing; one cache read when one is.
        """
        reading = _reading.get()
        if reading is None or self.namespace not in reading.tracked:
            return
        counters = [c for c in map(self.key_counter, keys) if c not in reading.versions]
        if not counters:
            return
        try:
            found = store.call(self.namespace, lambda cache: cache.get_many(counters))
        except store.CacheUnavailable:
            reading.complete = False
            return
        for counter in counters:
            reading.versions[counter] = found.get(counter)

    def _reads_current(self, full_key: str, entry: tuple, epoch: int | None) -> bool:
        """Whether no key the entry's compute read was invalidated since it read it."""
        if len(entry) < 5:
            return True  # a namespace that tracks nothing
        if self._checked_at(full_key, entry, epoch):
            return True
        versions = entry[4][1]
        if versions:
            counters = [counter for counter, _ in versions]
            try:
                found = store.call(self.namespace, lambda cache: cache.get_many(counters))
            except store.CacheUnavailable:
                return False
            if any(found.get(counter) != version for counter, version in versions):
                return False
        _checked_mark(full_key, entry, epoch)
        return True

    @staticmethod
    def _checked_at(full_key: str, entry: tuple, epoch: int | None) -> bool:
        """Whether the entry's reads are known current at `epoch` without reading them:
        nothing was invalidated since its compute began, or this process checked it."""
        if epoch is None:
            return False
        return entry[4][0] == epoch or _reads_checked.get((full_key, entry[1])) == epoch

    def generations(self) -> tuple[int, ...]:
        """Return the current counters (own first, then dependencies).

        One cache read while no namespace was bumped since this process last looked (the
        epoch), one more when one was. Bumps move the epoch after the counter, so a reader
        that sees the new epoch also sees the new counter.
        """
        return self._current()[1]

    def _current(self) -> tuple[int, tuple[int, ...], str]:
        """The epoch, the generations and their version, as of now."""
        epoch = store.call(self.namespace, _epoch.read)
        if epoch is None:
            epoch = self._counters((EPOCH_KEY,))[0]
        remembered = _generations_seen.get((self.namespace, self.shape))
        if remembered is not None and remembered[0] == epoch:
            return remembered
        generations = self._counters(self.generation_keys())
        version = _version_of(generations, self.shape)
        _generations_seen[(self.namespace, self.shape)] = (epoch, generations, version)
        return epoch, generations, version

    def _counters(self, keys: tuple[str, ...]) -> tuple[int, ...]:
        found = store.call(self.namespace, lambda cache: cache.get_many(keys))
        for key in keys:
            if found.get(key) is None:
                # First use (or evicted): start from the clock; `add` lets one writer win.
                started = _new_generation()
                store.call(self.namespace, methodcaller("add", key, started, GENERATION_TTL))
                winner = store.call(self.namespace, methodcaller("get", key))
                # Gone again already (evicted, or the cache was cleared): ours stands in,
                # and the next read starts it afresh.
                found[key] = started if winner is None else winner
        return tuple(int(found[key]) for key in keys)

    def version(self, generations: tuple[int, ...] | None = None) -> str:
        if generations is None:
            return self._current()[2]
        return _version_of(generations, self.shape)

    def full_key(self, key: object, version: str) -> str:
        return f"{self.namespace}:{version}:{key}"

    def get(self, key: object) -> Any | None:
        """Return the current entry's value if it is there (fresh or in grace), else None.

        Never recomputes and never writes; a cache failure is a None.
        """
        return self.get_with_version(key)[0]

    def get_with_version(self, key: object) -> tuple[Any | None, str | None]:
        """`get`, and the version it looked under (None when the cache failed).

        An owner that computes the value on a miss stores it with `set_many(version=...)`
        under this version, read before the system of record: a write that commits
        meanwhile has moved the version on, so the value it stores is never current.
        """
        try:
            version = self.version()
            full_key = self.full_key(key, version)
            entry = store.call(self.namespace, lambda cache: cache.get(full_key))
        except store.CacheUnavailable:
            return None, None
        if entry is None or not self._reads_current(full_key, entry, None):
            return None, version
        return entry[0], version

    def get_many(self, keys: Iterable[K], *, absent: Any = None) -> dict[K, Any]:
        """Return the fresh entries among `keys` (one round trip); a failure finds none.

        An entry cached as absent (None) is returned as `absent` when that is given, and
        left out otherwise.
        """
        keys = list(keys)
        if not keys:
            return {}
        try:
            epoch, _, version = self._current()
        except store.CacheUnavailable:
            return {}
        return self._get_many(keys, version, epoch, absent=absent)[0]

    def _get_many(
        self, keys: list[K], version: str, epoch: int, *, absent: Any
    ) -> tuple[dict[K, Any], dict[K, Any] | None]:
        """The fresh entries among `keys`, and in a keyed namespace every key's counter
        that was read on the way (None when the cache could not be read: store nothing)."""
        if not keys:
            return {}, {}
        full_keys = {key: self.full_key(key, version) for key in keys}
        try:
            entries = store.call(
                self.namespace, lambda cache: cache.get_many(list(full_keys.values()))
            )
        except store.CacheUnavailable:
            return {}, None
        now = _now()
        live = {
            key: entry
            for key in keys
            if (entry := entries.get(full_keys[key])) is not None and now < entry[2]
        }
        counters: dict[K, Any] | None = {}
        if self.spec.keyed:
            counters = self._keyed_current(keys, live, full_keys, epoch)
        found: dict[K, Any] = {}
        for key, entry in live.items():
            if entry[0] is not None:
                found[key] = entry[0]
            elif absent is not None:
                found[key] = absent
        cache_event(self.namespace, CacheEvent.HIT, len(found))
        cache_event(self.namespace, CacheEvent.MISS, len(keys) - len(found))
        return found, counters

    def _keyed_current(
        self, keys: list[K], live: dict[K, tuple], full_keys: dict[K, str], epoch: int
    ) -> dict[K, Any] | None:
        """Drop from `live` the entries whose key was invalidated since they were read.

        One read of the counters of every key not known current at `epoch`, the missing
        ones included: a compute stores each with the counter read before it ran, so a
        write committing meanwhile retires what it stores. Returns the counters read.
        """
        unchecked = [
            key
            for key in keys
            if key not in live or not self._checked_at(full_keys[key], live[key], epoch)
        ]
        if not unchecked:
            return {}
        counter_keys = [self.key_counter(key) for key in unchecked]
        try:
            found = store.call(self.namespace, lambda cache: cache.get_many(counter_keys))
        except store.CacheUnavailable:
            for key in unchecked:
                live.pop(key, None)  # cannot tell whether they are current
            return None
        counters = {
            key: found.get(counter) for key, counter in zip(unchecked, counter_keys, strict=True)
        }
        for key in unchecked:
            if key not in live:
                continue
            if dict(live[key][4][1]).get(self.key_counter(key)) != counters[key]:
                del live[key]
            else:
                _checked_mark(full_keys[key], live[key], epoch)
        return counters


class OwnedCache(CacheReader):
    """A namespace handle for its owner: read-through, invalidation, stampede control.

    Every writing method checks that its caller lives in the owning app, so another app
    holding this object still cannot write or invalidate (CacheOwnershipError).
    """

    def _check_owner(self) -> None:
        module = calling_module()
        if _app_of(module) != self.spec.owner:
            raise CacheOwnershipError(
                f"{module or 'unknown code'} may read {self.namespace} but not write it: "
                f"only {self.spec.owner} writes and invalidates its caches"
            )

    def bound_for_owner(self) -> OwnedCache:
        """Check ownership once, for wrappers (decorators) that call back later."""
        self._check_owner()
        return self

    # Reads through the cache ------------------------------------------------------------

    def get_or_compute(self, key: object, compute: Callable[[], T | DoNotCache[T]]) -> T:
        """Return the cached value for `key`, computing it (once, under a lock) if needed."""
        self._check_owner()
        return self.fetch(key, compute)

    def fetch(self, key: object, compute: Callable[[], T | DoNotCache[T]]) -> T:
        """get_or_compute without the ownership check; call it through bound_for_owner()."""
        try:
            epoch, _, version = self._current()
            full_key = self.full_key(key, version)
            entry = store.call(self.namespace, lambda cache: cache.get(full_key))
        except store.CacheUnavailable:
            return self._compute(compute, None)[0]
        now = _now()
        if entry is not None and self._reads_current(full_key, entry, epoch):
            value, _, fresh_until, cost = entry[:4]
            if len(entry) > 4:
                _pass_on(entry[4][1])
            if now < fresh_until and not self._refresh_early(now, fresh_until, cost):
                cache_event(self.namespace, CacheEvent.HIT)
                return value
            if self._lock(full_key):
                return self._recompute_and_store(full_key, compute, epoch, seen_stored_at=entry[1])
            # Another request is recomputing: this one keeps the value it has.
            fresh = now < fresh_until
            cache_event(self.namespace, CacheEvent.HIT if fresh else CacheEvent.STALE_SERVED)
            return value
        # Missing, or built from a key invalidated since: never served; one recomputes.
        retired_at = None if entry is None else entry[1]
        cache_event(self.namespace, CacheEvent.MISS)
        if self._lock(full_key):
            return self._recompute_and_store(full_key, compute, epoch, seen_stored_at=retired_at)
        return self._wait_for(full_key, compute, epoch, retired_at=retired_at)

    def peek(self, key: object) -> Peeked:
        """Return the value if its entry is fresh and not due for an early refresh.

        For a fast path that answers hits only: a None value sends the request on to
        `fetch`, which recomputes under single flight (and counts the miss). Never
        writes. While the epoch has not moved, the epoch and the entry are read together
        (one round trip on Redis), and an entry this process already read at that epoch
        is not read again: only the epoch is. Nothing can have retired it (every
        invalidation moves the epoch), and a copy past its freshness is read afresh,
        since another process may have refreshed it. The epoch is returned with the
        value: a caller that remembered other state at an epoch (the release flags)
        knows it is still current.
        """
        try:
            remembered = _generations_seen.get((self.namespace, self.shape))
            if remembered is not None:
                epoch = remembered[0]
                full_key = self.full_key(key, remembered[2])
                seen = _entries_seen.get(full_key)
                if seen is not None and seen[0] == epoch:
                    if store.call(self.namespace, _epoch.read) != epoch:
                        remembered = None  # something was invalidated: read all afresh below
                    elif (value := self._fresh(full_key, seen[1], epoch)) is not None:
                        return Peeked(value, epoch)
            if remembered is not None:
                found = store.call(
                    self.namespace, lambda cache: cache.get_many([EPOCH_KEY, full_key])
                )
                if found.get(EPOCH_KEY) == epoch:
                    entry = found.get(full_key)
                    if entry is not None:
                        if len(_entries_seen) >= ENTRIES_SEEN_MAX:
                            _entries_seen.clear()
                        _entries_seen[full_key] = (epoch, entry)
                    return Peeked(self._fresh(full_key, entry, epoch), epoch)
            epoch, _, version = self._current()
            full_key = self.full_key(key, version)
            entry = store.call(self.namespace, lambda cache: cache.get(full_key))
        except store.CacheUnavailable:
            return Peeked(None, None)
        return Peeked(self._fresh(full_key, entry, epoch), epoch)

    def _fresh(self, full_key: str, entry: tuple | None, epoch: int) -> Any | None:
        if entry is None:
            return None
        value, _, fresh_until, cost = entry[:4]
        now = _now()
        if now >= fresh_until or self._refresh_early(now, fresh_until, cost):
            return None
        if not self._reads_current(full_key, entry, epoch):
            return None
        cache_event(self.namespace, CacheEvent.HIT)
        return value

    def get_many_or_compute(
        self,
        keys: Iterable[K],
        compute_missing: Callable[[list[K]], Mapping[K, V]],
        *,
        expires_at: Callable[[V], float | None] | None = None,
    ) -> dict[K, V]:
        """Return {key: value} for `keys`, computing every miss in one call.

        Keys `compute_missing` leaves out are cached as absent, so an unknown key does not
        cost a query on every request. `expires_at` may cap an entry's TTL (a price that
        changes at a known time). What it computes is stored under the version it looked
        up under, read before `compute_missing` reads the system of record: if a write
        commits in between, its bump has already retired that version. In a keyed
        namespace each entry also records its key's counter as read before the compute,
        and a hit is served only while that counter stands (one read for all of them,
        none while the epoch has not moved since).
        """
        self._check_owner()
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        try:
            epoch, _, version = self._current()
        except store.CacheUnavailable:
            found: dict[K, Any] = {}
            counters: dict[K, Any] | None = None
        else:
            found, counters = self._get_many(keys, version, epoch, absent=_ABSENT)
        missing = [key for key in keys if key not in found]
        started = time.perf_counter()
        if missing:
            with store_span("cache.compute", namespace=self.namespace, keys=len(missing)):
                computed = compute_missing(missing)
        else:
            computed = {}
        if counters is not None:
            self._put_many(
                {key: computed.get(key) for key in missing},
                version=version,
                cost=time.perf_counter() - started,
                expires_at=expires_at,
                reads={key: (epoch, ((self.key_counter(key), counters[key]),)) for key in missing}
                if self.spec.keyed
                else None,
            )
        found.update(computed)
        return {key: value for key, value in found.items() if value is not _ABSENT}

    def set_many(
        self,
        values: Mapping[Any, Any],
        *,
        version: str,
        expires_at: Callable[[Any], float | None] | None = None,
    ) -> None:
        """Store values the owner read from its system of record, under `version`: the
        namespace's version as read before that read (`get_with_version`, `version()`).
        Stored under the version of the moment instead, a value read just before a write
        committed would outlive the write's bump. One round trip."""
        self._check_owner()
        if self.spec.keyed:
            raise ValueError(
                f"{self.namespace} is keyed: store through get_many_or_compute, which "
                "reads each key's counter before the system of record"
            )
        self._put_many(values, version=version, cost=0.0, expires_at=expires_at)

    def _put_many(
        self,
        values: Mapping[Any, Any],
        *,
        version: str,
        cost: float,
        expires_at: Callable[[Any], float | None] | None,
        reads: Mapping[Any, tuple] | None = None,
    ) -> None:
        """Store `values` in one write; `reads`: what each key's entry records of the
        counters it read.

        One TTL for the batch, jittered per batch: entries computed together are stored
        together (a TTL drawn per entry made each its own write, 50 SQLite transactions
        for one product grid), and batches written at the same moment still expire apart.
        """
        if not values:
            return
        cache_event(self.namespace, CacheEvent.RECOMPUTE)
        now = _now()
        batch_ttl = self._ttl()
        by_timeout: dict[float, dict[str, tuple]] = {}
        for key, value in values.items():
            ttl = batch_ttl
            until = expires_at(value) if value is not None and expires_at else None
            if until is not None:
                ttl = min(ttl, until - now)
            if ttl >= 1:
                entry: tuple = (value, now, now + ttl, cost)
                if reads is not None:
                    entry = (*entry, reads[key])
                expiry = _expiry(ttl + self.spec.grace)
                by_timeout.setdefault(expiry, {})[self.full_key(key, version)] = entry
        self._store_many(by_timeout)

    # Invalidation -----------------------------------------------------------------------

    def invalidate_on_commit(self, keys: Iterable[object] | None = None) -> None:
        """Bump the generation once the current transaction commits (now in autocommit).

        A rolled-back transaction never runs the bump. One bump retires every entry of
        the namespace and of the namespaces that depend on it: bulk writes pay once.
        Naming the changed `keys` retires, in namespaces that track this one, only the
        entries that read one of them (all of them past SCOPED_INVALIDATION_MAX keys);
        naming none changed bumps nothing.
        """
        self._check_owner()
        scoped = None if keys is None else frozenset(keys)
        if scoped is not None and not scoped:
            return
        if scoped is not None and len(scoped) > SCOPED_INVALIDATION_MAX:
            scoped = None
        transaction.on_commit(lambda: self._bump(scoped))

    def _bump(self, keys: frozenset[object] | None = None) -> None:
        def bump(cache: Any) -> None:
            # The namespace's counters first, then the epoch: see generations(). Key
            # counters after that epoch, so a compute that reads a moved key counter
            # also reads the new generation; and the epoch once more, so no process
            # keeps an entry it checked between the two as current (`_reads_current`).
            wide = (f"{self.namespace}:gen-all",) if keys is None else ()
            for key in (f"{self.namespace}:gen", *wide, EPOCH_KEY):
                _incr(cache, key)
            if keys:
                moved = _new_generation()
                cache.set_many({self.key_counter(k): moved for k in keys}, GENERATION_TTL)
                _incr(cache, EPOCH_KEY)
            epoch_moved(cache)

        # Before the bump: a reader that sees the new generation must see the fence
        # that keeps a lagging replica from refilling it with the old value.
        from toolkit.replicas import fence_advance

        fence_advance()
        try:
            store.call(self.namespace, bump)
        except store.CacheUnavailable:
            logger.error(
                "lost the invalidation of %s: its entries may be stale for up to %ss "
                "(their TTL); cache_audit reports them",
                self.namespace,
                self.spec.ttl + self.spec.grace,
            )
            return
        cache_event(self.namespace, CacheEvent.INVALIDATION)

    # Internals --------------------------------------------------------------------------

    def _ttl(self) -> float:
        return self.spec.ttl * (1 - random.uniform(0, self.spec.jitter))

    def _refresh_early(self, now: float, fresh_until: float, cost: float) -> bool:
        """XFetch (Vattani et al.): refresh with a probability rising towards expiry."""
        beta = self.spec.early_refresh_beta
        if beta <= 0 or cost <= 0:
            return False
        return now - cost * beta * math.log(1.0 - random.random()) >= fresh_until

    def _lock_key(self, full_key: str) -> str:
        return f"{self.namespace}:lock:{full_key.partition(':')[2]}"

    def _lock(self, full_key: str) -> bool:
        """Try to become the one request that recomputes. A dead cache: everyone computes."""
        if mode_on("cold-release"):
            # The naive path (lab mode `cold-release`): no single flight, so every request
            # that misses recomputes the entry, all at once after a release empties the cache.
            return True
        lock_key = self._lock_key(full_key)
        try:
            return bool(
                store.call(
                    self.namespace,
                    lambda cache: cache.add(lock_key, 1, math.ceil(self.spec.lock_timeout)),
                )
            )
        except store.CacheUnavailable:
            return True

    def _unlock(self, full_key: str) -> None:
        lock_key = self._lock_key(full_key)
        # If the cache fails here, the lock expires on its own.
        with suppress(store.CacheUnavailable):
            store.call(self.namespace, lambda cache: cache.delete(lock_key))

    def _compute(
        self, compute: Callable[[], T | DoNotCache[T]], epoch: int | None
    ) -> tuple[T, float, bool, tuple | None]:
        """Run `compute`; return its value, cost, whether to store it, and its reads.

        `epoch` is the one read before computing: an entry is current without a check
        while the epoch has not moved since.
        """
        reading = _Reads(frozenset(self.spec.tracks)) if self.spec.tracks else None
        token = _reading.set(reading) if reading is not None else None
        started = time.perf_counter()
        try:
            # A miss is worth a span (the work below it is what a trace explains); a
            # hit is only counted on the request's span (toolkit.tracing.tally).
            with store_span("cache.compute", namespace=self.namespace):
                result = compute()
        finally:
            if token is not None:
                _reading.reset(token)
        cost = time.perf_counter() - started
        cache_event(self.namespace, CacheEvent.RECOMPUTE)
        reads = None
        if reading is not None:
            reads = (epoch, tuple(reading.versions.items()))
            _pass_on(reads[1])
        if isinstance(result, DoNotCache):
            return result.value, cost, False, reads
        # A read it could not record: the entry could not tell when it goes stale.
        return result, cost, reading is None or reading.complete, reads

    def _recompute_and_store(
        self,
        full_key: str,
        compute: Callable[[], T | DoNotCache[T]],
        epoch: int | None,
        seen_stored_at: float | None = None,
    ) -> T:
        try:
            # Double-checked: another request may have stored a new value between our
            # read and our lock (it released the lock after storing).
            with suppress(store.CacheUnavailable):
                entry = store.call(self.namespace, lambda cache: cache.get(full_key))
                if (
                    entry is not None
                    and entry[1] != seen_stored_at
                    and _now() < entry[2]
                    and self._reads_current(full_key, entry, epoch)
                ):
                    return entry[0]
            value, cost, storable, reads = self._compute(compute, epoch)
            if storable:
                now = _now()
                ttl = self._ttl()
                entry = (value, now, now + ttl, cost)
                if reads is not None:
                    entry = (*entry, reads)
                self._store_many({ttl + self.spec.grace: {full_key: entry}})
            return value
        finally:
            self._unlock(full_key)

    def _store_many(self, entries_by_timeout: Mapping[float, Mapping[str, tuple]]) -> None:
        for timeout, entries in entries_by_timeout.items():
            try:
                store.call(self.namespace, methodcaller("set_many", entries, _expiry(timeout)))
            except store.CacheUnavailable:
                return  # served from the source this time; nothing else to do

    def _wait_for(
        self,
        full_key: str,
        compute: Callable[[], T | DoNotCache[T]],
        epoch: int | None,
        retired_at: float | None = None,
    ) -> T:
        """Wait for the request holding the lock, bounded by the lock's timeout.

        `retired_at`: the stored_at of an entry found retired, which is not the answer.
        """
        lock_key = self._lock_key(full_key)
        deadline = time.monotonic() + self.spec.lock_timeout
        while time.monotonic() < deadline:
            time.sleep(WAIT_POLL_SECONDS)
            try:
                found = store.call(
                    self.namespace, lambda cache: cache.get_many([full_key, lock_key])
                )
            except store.CacheUnavailable:
                break
            if full_key in found and found[full_key][1] != retired_at:
                return found[full_key][0]
            if lock_key not in found:
                # The winner stores before it unlocks, but the two keys were read one
                # after the other: look once more before concluding it stored nothing.
                with suppress(store.CacheUnavailable):
                    entry = store.call(self.namespace, lambda cache: cache.get(full_key))
                    if entry is not None and entry[1] != retired_at:
                        return entry[0]
                break  # the recompute failed or was not storable: compute here
        return self._compute(compute, epoch)[0]
