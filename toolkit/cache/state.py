"""The owner's handle on shared state kept in the cache server (`declare_state`).

State is not a cache of anything (a circuit breaker, the ops dashboard's ring of
readings, a dependency's last answer kept for when it fails), so it has no generation
and no audit hook; what it does have is an owner and a key prefix. `declare_state`
returns this handle, and the owner reads and writes every key through it: a key it
writes always starts with the declared prefix, so the audit never finds it unowned, and
every write names its timeout, so no state outlives its use.

It uses the default cache alias, not the toolkit's: state is read on the request path,
and in the services profile that alias answers a Redis outage with a miss (and drops
the write) instead of raising, which is what every holder of state wants.
"""

from collections.abc import Iterable
from typing import Any

from django.core.cache import cache

from toolkit.cache.spec import StateSpec


class SharedState:
    """The keys of one declared shared state, addressed by what follows the prefix."""

    def __init__(self, spec: StateSpec) -> None:
        self.spec = spec

    def key(self, suffix: str = "") -> str:
        """The cache key of `suffix`: the declared prefix, then the suffix."""
        return f"{self.spec.prefix}{suffix}"

    def get(self, suffix: str = "", default: Any = None) -> Any:
        return cache.get(self.key(suffix), default)

    def get_many(self, suffixes: Iterable[str]) -> dict[str, Any]:
        """Return the values found, keyed by suffix (absent keys are left out)."""
        keys = {self.key(suffix): suffix for suffix in suffixes}
        return {keys[key]: value for key, value in cache.get_many(list(keys)).items()}

    def set(self, suffix: str, value: Any, *, timeout: float) -> None:
        cache.set(self.key(suffix), value, timeout=timeout)

    def add(self, suffix: str, value: Any, *, timeout: float) -> bool:
        """Write only if the key is absent (atomic); return whether this call wrote it."""
        return bool(cache.add(self.key(suffix), value, timeout=timeout))

    def incr(self, suffix: str) -> Any:
        """Increment a counter atomically; ValueError if it is absent (add it first).

        What comes back depends on the backend when it is busy or away (diskcache and
        django-redis ignoring an outage answer None): callers check for an int.
        """
        return cache.incr(self.key(suffix))

    def delete(self, *suffixes: str) -> None:
        cache.delete_many([self.key(suffix) for suffix in suffixes])
