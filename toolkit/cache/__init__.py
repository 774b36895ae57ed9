"""Cache ownership: declared namespaces, generational invalidation, stampede control.

Public API: `declare` and `declare_state` (in `<app>/caches.py` only), `reader`,
`registry`, `CacheSpec`, `StateSpec`, `SharedState`, `Stampede`, `DoNotCache`,
`CacheOwnershipError`, `CacheUnavailable` (the server failed or is being skipped),
`epoch_read` / `epoch_bump` (for state remembered between bumps);
`toolkit.cache.http.cache_response` for full responses. See toolkit/README.md.
"""

from toolkit.cache.owned import (
    CacheOwnershipError,
    CacheReader,
    DoNotCache,
    OwnedCache,
    Peeked,
    epoch_bump,
    epoch_read,
)
from toolkit.cache.registry import CacheRegistry, declare, declare_state, reader, registry
from toolkit.cache.spec import CacheSpec, Stampede, StateSpec
from toolkit.cache.state import SharedState
from toolkit.cache.store import CacheUnavailable

__all__ = [
    "CacheOwnershipError",
    "CacheReader",
    "CacheRegistry",
    "CacheSpec",
    "CacheUnavailable",
    "DoNotCache",
    "OwnedCache",
    "Peeked",
    "SharedState",
    "Stampede",
    "StateSpec",
    "declare",
    "declare_state",
    "epoch_bump",
    "epoch_read",
    "reader",
    "registry",
]
