"""The cache ownership registry: every namespace, declared once by its owner.

Each domain app declares its caches in `<app>/caches.py` and only there; the toolkit
imports those modules at start-up (`ToolkitConfig.ready`). Declaring returns the
owner's handle (`OwnedCache`, or `SharedState` for state); any other app gets a
read-only `CacheReader`.
"""

from typing import Any

from django.utils.module_loading import autodiscover_modules

from toolkit.cache import store
from toolkit.cache.owned import (
    EPOCH_KEY,
    CacheOwnershipError,
    CacheReader,
    OwnedCache,
    calling_module,
    epoch_moved,
)
from toolkit.cache.spec import CacheSpec, StateSpec
from toolkit.cache.state import SharedState

DECLARING_MODULE = "caches"
# The shapes the last deploy published (`CacheRegistry.shapes_publish`).
SHAPES_KEY = "toolkit:cache-shapes"
SHAPES_TTL = 30 * 24 * 3600


class CacheRegistry:
    def __init__(self) -> None:
        self._handles: dict[str, OwnedCache] = {}
        self._states: dict[str, StateSpec] = {}

    def declare(self, spec: CacheSpec) -> OwnedCache:
        """Register a namespace and return its owner's handle.

        Only a `caches` module of the owning app may declare (`pricing.caches` declares
        `pricing.*`), so the one place to read an app's caches is that module.
        """
        _check_declaring_module(calling_module(), spec.owner, spec.namespace)
        if spec.namespace in self._handles:
            raise ValueError(f"cache namespace {spec.namespace} is declared twice")
        unknown = [name for name in (*spec.depends_on, *spec.tracks) if name not in self._handles]
        if unknown:
            raise ValueError(f"{spec.namespace} depends on undeclared {', '.join(unknown)}")
        handle = OwnedCache(spec)
        self._handles[spec.namespace] = handle
        return handle

    def declare_state(self, spec: StateSpec) -> SharedState:
        """Register shared state kept in the cache server and return its owner's handle.

        Same rule as `declare`: only `<owner>.caches` may declare. No prefix may contain
        another, so every key has exactly one owner.
        """
        _check_declaring_module(calling_module(), spec.owner, spec.prefix)
        # The same prefix, or one inside the other: two owners would share keys.
        if overlap := [
            p for p in self._states if p.startswith(spec.prefix) or spec.prefix.startswith(p)
        ]:
            raise ValueError(f"shared state {spec.prefix} overlaps {', '.join(overlap)}")
        self._states[spec.prefix] = spec
        return SharedState(spec)

    def states(self) -> tuple[StateSpec, ...]:
        return tuple(sorted(self._states.values(), key=lambda spec: spec.prefix))

    def state_of(self, key: str) -> StateSpec | None:
        """Return the shared state a raw cache key belongs to, if any."""
        return next((spec for spec in self._states.values() if key.startswith(spec.prefix)), None)

    def specs(self) -> tuple[CacheSpec, ...]:
        return tuple(sorted((h.spec for h in self._handles.values()), key=_by_namespace))

    def reader(self, namespace: str) -> CacheReader:
        """Return a read-only view of a namespace, for any app."""
        return CacheReader(self._handles[namespace].spec)

    def shapes(self) -> dict[str, str]:
        """Each namespace's shape fingerprint, as this code builds its keys."""
        return {namespace: handle.shape for namespace, handle in sorted(self._handles.items())}

    def shapes_publish(self) -> tuple[str, ...]:
        """Record this code's shapes; return the namespaces whose shape changed since the
        last call (none the first time: nothing was published to compare with).

        A deploy calls it with the new code, before the reload: the namespaces it returns
        are those whose entries the new code reads as misses (`toolkit.cache.shape`);
        every other namespace keeps its entries. Raises CacheUnavailable.
        """
        current = self.shapes()
        published = store.call("(registry)", lambda cache: cache.get(SHAPES_KEY)) or {}
        store.call("(registry)", lambda cache: cache.set(SHAPES_KEY, current, SHAPES_TTL))
        return tuple(
            namespace
            for namespace, shape in current.items()
            if namespace in published and published[namespace] != shape
        )

    def retire(self, namespace: str) -> None:
        """Make every entry of one namespace unreachable, as a changed shape does for the
        new code: each key misses once and is recomputed under single flight.

        For operators and the deploy scenario (`manage.py deploy --retire`); apps never
        call it. Its counter restarts from the clock, past any value it had.
        """
        if namespace not in self._handles:
            raise KeyError(f"no cache namespace {namespace!r}")
        _delete_counters([f"{namespace}:gen", EPOCH_KEY])

    def retire_all(self) -> None:
        """Make every entry of every namespace unreachable at once (drop the generations).

        For operators (after restoring a database backup) and for tests measuring cold
        pages; apps never call it. Unlike clearing the cache it leaves sessions alone.
        """
        # The epoch too, so that no process keeps the generations it remembers.
        # Wide counters too: a keyed namespace's entries hang on its `gen-all`.
        keys = [
            f"{namespace}:{counter}"
            for namespace in self._handles
            for counter in ("gen", "gen-all")
        ] + [EPOCH_KEY]
        _delete_counters(keys)


def _delete_counters(keys: list[str]) -> None:
    """Delete counters, the epoch among them, and wait until every process can see it."""

    def delete(cache: Any) -> None:
        cache.delete_many(keys)
        epoch_moved(cache)

    store.call("(registry)", delete)


def _check_declaring_module(module: str, owner: str, what: str) -> None:
    package, _, name = module.rpartition(".")
    if name != DECLARING_MODULE or package.partition(".")[0] != owner:
        raise CacheOwnershipError(f"{module} cannot declare {what}: declare it in {owner}.caches")


def _by_namespace(spec: CacheSpec) -> str:
    return spec.namespace


registry = CacheRegistry()
declare = registry.declare
declare_state = registry.declare_state
reader = registry.reader


def autodiscover() -> None:
    """Import every installed app's `caches` module, so each declares its namespaces."""
    autodiscover_modules(DECLARING_MODULE)
