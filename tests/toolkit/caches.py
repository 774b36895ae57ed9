"""Namespaces the toolkit's tests exercise, declared the way an app declares its own.

They live in a registry of their own, so they never appear in the store's registry,
its docs or its audit. The `tests` package owns them.
"""

from toolkit.cache import CacheRegistry, CacheSpec, Stampede

registry = CacheRegistry()

HOT = registry.declare(
    CacheSpec(
        namespace="tests.hot",
        owner="tests",
        entity="a value a test computes",
        key_schema="<name>",
        ttl=60,
        jitter=0.1,
        grace=60,
        invalidated_by=("a test",),
        staleness_tolerance=0,
        stampede=Stampede.SINGLE_FLIGHT_STALE,
        # Deterministic tests: no early refresh unless a test asks for it.
        early_refresh_beta=0,
    )
)

DEPENDENT = registry.declare(
    CacheSpec(
        namespace="tests.dependent",
        owner="tests",
        entity="a value derived from tests.hot",
        key_schema="<name>",
        ttl=60,
        invalidated_by=("a test",),
        staleness_tolerance=0,
        stampede=Stampede.SINGLE_FLIGHT,
        depends_on=("tests.hot",),
        early_refresh_beta=0,
    )
)

BATCH = registry.declare(
    CacheSpec(
        namespace="tests.batch",
        owner="tests",
        entity="values read in batches",
        key_schema="<id>",
        ttl=60,
        invalidated_by=("a test",),
        staleness_tolerance=0,
        stampede=Stampede.BATCH,
    )
)

SOURCE = registry.declare(
    CacheSpec(
        namespace="tests.source",
        owner="tests",
        entity="records by id, as prices or stock are",
        key_schema="<id>",
        ttl=60,
        invalidated_by=("a test",),
        staleness_tolerance=0,
        stampede=Stampede.BATCH,
    )
)

TRACKING = registry.declare(
    CacheSpec(
        namespace="tests.tracking",
        owner="tests",
        entity="a value built from some records of tests.source, as a page is",
        key_schema="<name>",
        ttl=60,
        grace=60,
        invalidated_by=("a test",),
        staleness_tolerance=0,
        stampede=Stampede.SINGLE_FLIGHT_STALE,
        tracks=("tests.source",),
        early_refresh_beta=0,
        lock_timeout=1.0,
    )
)

KEYED = registry.declare(
    CacheSpec(
        namespace="tests.keyed",
        owner="tests",
        entity="records by id, retired by id, as listing prices are",
        key_schema="<id>",
        ttl=60,
        invalidated_by=("a test",),
        staleness_tolerance=0,
        stampede=Stampede.BATCH,
        keyed=True,
    )
)
