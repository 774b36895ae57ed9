"""The toolkit's shared state in the cache server (`python manage.py cache_registry`)."""

from toolkit.cache import StateSpec, declare_state

declare_state(
    StateSpec(
        prefix="toolkit:cache-epoch",
        owner="toolkit",
        entity="one counter that moves after every generation bump of any namespace, so a "
        "process re-reads generations only when one moved (toolkit.cache.owned)",
        expiry="thirty days after the last bump, like the generations",
    )
)

REPLICA_FENCE = declare_state(
    StateSpec(
        prefix="toolkit:replica-fence",
        owner="toolkit",
        entity="the primary's WAL position (bytes) after the last invalidating write; a "
        "replica serves routed reads only once it has replayed past it (toolkit.replicas)",
        expiry="one day after the last write; absent, no write is waited for",
    )
)

declare_state(
    StateSpec(
        prefix="toolkit:cache-shapes",
        owner="toolkit",
        entity="each namespace's shape fingerprint as the last deploy published it, so the "
        "next one names the namespaces whose entries it retires (toolkit.cache.registry)",
        expiry="thirty days after the last deploy",
    )
)
