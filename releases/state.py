"""The flag snapshot the request path reads: in the cache, versioned, zero queries.

Writers (the release services and the evaluator) publish after commit: the whole state
of every flag goes under `releases:flags:v<generation>` and then the generation key
moves to it, so a reader never sees half a write. Readers fetch the generation (one
cache round trip) and keep the decoded snapshot per generation in the process.

The database is the system of record but is never read on the request path: a page's
query count does not change with flags. If the cache loses the snapshot, flags fall
back to their declared defaults (rollouts off, kill switches serving) until the next
publish; the evaluator republishes a missing snapshot on every tick (every few
seconds), which bounds that window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import MappingProxyType

from django.core.cache import cache
from django.db import transaction

from releases.caches import RELEASES_PREFIX
from releases.spec import FLAGS, FlagSpec
from toolkit.cache import epoch_bump, epoch_read

GENERATION_KEY = f"{RELEASES_PREFIX}generation"
# Plain (name, status, exposure) tuples, which decode whatever module this code lives
# in. Snapshots written before the move to the releases app pickled toolkit classes
# under `releases:state:v<generation>`; this key never reads them, and they expire.
STATE_KEY = f"{RELEASES_PREFIX}flags:v{{}}"
STATE_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class FlagState:
    """What the request path needs to know about one flag."""

    name: str
    status: str
    exposure_bp: int


Snapshot = MappingProxyType  # flag name -> FlagState

_memo: dict[int, Snapshot] = {}
# Flags at their declared defaults; one object, so callers may memoise by identity.
EMPTY_SNAPSHOT: Snapshot = MappingProxyType({})


def flag_state(spec: FlagSpec, snapshot: Snapshot) -> FlagState:
    """The flag's published state, or its declared default if none is published."""
    return snapshot.get(spec.name) or FlagState(
        name=spec.name, status="default", exposure_bp=spec.default_exposure_bp
    )


def snapshot_get() -> Snapshot:
    """Return the published flag states. One cache read; no query."""
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        return EMPTY_SNAPSHOT
    if (snapshot := _memo.get(generation)) is not None:
        return snapshot
    rows = cache.get(STATE_KEY.format(generation))
    if rows is None:
        return EMPTY_SNAPSHOT
    snapshot = MappingProxyType(
        {name: FlagState(name=name, status=status, exposure_bp=bp) for name, status, bp in rows}
    )
    _memo.clear()  # one generation per process is enough
    _memo[generation] = snapshot
    return snapshot


# The snapshot this process read last, with the cache epoch read just before it. Every
# publish moves the epoch, so while the epoch has not moved the snapshot is current: the
# page cache's fast path checks that in the same read as its entry (snapshot_as_of).
_as_of: tuple[int | None, Snapshot] | None = None


def snapshot_as_of() -> tuple[int | None, Snapshot]:
    """The snapshot this process last read and the epoch it holds for (read if none)."""
    return _as_of if _as_of is not None else snapshot_refresh()


def snapshot_refresh() -> tuple[int | None, Snapshot]:
    """Read the epoch, then the snapshot, and remember both. Two cache reads at most."""
    global _as_of
    epoch = epoch_read()  # first: a publish after it moves the epoch past this value
    _as_of = (epoch, snapshot_get())
    return _as_of


def snapshot_publish() -> None:
    """Write every flag's state to the cache under a new generation. One query."""
    from releases.models import ReleaseFlag

    rows = list(
        ReleaseFlag.objects.filter(name__in=FLAGS).values_list("name", "status", "exposure_bp")
    )
    generation = time.time_ns()
    cache.set(STATE_KEY.format(generation), rows, STATE_TTL)
    cache.set(GENERATION_KEY, generation, STATE_TTL)
    epoch_bump()  # after the generation: see snapshot_as_of


def snapshot_publish_on_commit() -> None:
    """Publish once the current transaction commits (at once outside one)."""
    transaction.on_commit(snapshot_publish)


def snapshot_ensure() -> None:
    """Republish if the cache lost the snapshot (the evaluator calls it every tick).

    Either key may go: the generation, or only the states it points to (evicted, or
    written under an older key format).
    """
    generation = cache.get(GENERATION_KEY)
    if generation is None or cache.get(STATE_KEY.format(generation)) is None:
        snapshot_publish()
