"""The storefront's caches, declared here and nowhere else (`python manage.py cache_registry`).

Public pages read no visitor state, so a whole response can be shared by every visitor.
Their entries depend on the generations of everything they show, so an owner's bump
(a price import, a restock) retires them on the next request, as does a price or a shown
stock level of a variant they show; their TTL bounds what no write announces (a cart
reservation that lapses).

Two pieces of shared state are not caches of anything: the ops dashboard's ring of
metric readings, and the throwaway key each readiness probe writes and reads back.
"""

from dataclasses import replace

from django.utils.safestring import SafeString

from toolkit.cache import CacheSpec, Stampede, StateSpec, declare, declare_state
from toolkit.cache.http import CachedResponse

# What a catalog page shows. Catalog content: a bump in any of it retires every page (it
# changes rarely, and a category rename shows everywhere). Only the search page shows the
# search read model, so only its entries die with its bumps.
PAGE_SOURCES = (
    "catalog.category_tree",
    "catalog.listing",
    "catalog.product",
)
SEARCH_PAGE_SOURCES = (*PAGE_SOURCES, "search.documents")
# Prices and stock are tracked key by key: a page records the variants it showed, and a
# price import or restock retires only the pages showing one of them. A connector writing
# a price a second under campaign traffic would otherwise empty the whole page cache.
PAGE_TRACKS = ("pricing.price", "inventory.availability")

PAGES = declare(
    CacheSpec(
        namespace="storefront.page",
        owner="storefront",
        entity="a whole public page (home, category, product, robots.txt, sitemaps): body, "
        "type, ETag",
        key_schema="<digest of the URL with its declared parameters and release variant>",
        ttl=30,
        jitter=0.2,
        grace=5,
        invalidated_by=(
            "(any bump of the namespaces it depends on)",
            "(an invalidation of a price or stock it shows)",
        ),
        # Its own 35 s, plus the 5 s availability it embeds may already have been stale.
        # Prices and shown stock retire entries as they change (PAGE_TRACKS); the TTL
        # bounds only what no write announces: a lapsed cart reservation's units (shown
        # as taken a little longer, never the reverse) and the optional widgets.
        staleness_tolerance=40,
        stampede=Stampede.SINGLE_FLIGHT_STALE,
        depends_on=PAGE_SOURCES,
        tracks=PAGE_TRACKS,
        early_refresh_beta=1.0,
        lock_timeout=5.0,
        notes="Carts, checkout and orders are never cached: they are personal.",
        shape=CachedResponse,
    )
)

# The same policy as every other page; apart so that a read-model refresh retires only
# search results.
SEARCH_PAGES = declare(
    replace(
        PAGES.spec,
        namespace="storefront.search_page",
        entity="a whole search results page: body, type, ETag",
        depends_on=SEARCH_PAGE_SOURCES,
        notes="Apart from the other pages so that a read-model refresh retires only these.",
    )
)

# The sitemaps list every product (a few MB at 100k), and crawlers fetch them often. They
# show catalog data only: prices and stock, which change all day, do not retire them, so
# an entry lives until the catalog changes (a bump) or an hour passes.
SITEMAP_SOURCES = ("catalog.category_tree", "catalog.listing", "catalog.product")
SITEMAP_PAGES = declare(
    CacheSpec(
        namespace="storefront.sitemap",
        owner="storefront",
        entity="a whole sitemap (the index or a section's page): body, type, ETag, headers",
        key_schema="<digest of the URL with its declared parameters>",
        ttl=3600,
        jitter=0.2,
        grace=60,
        invalidated_by=("(any bump of the catalog namespaces it depends on)",),
        staleness_tolerance=0,
        stampede=Stampede.SINGLE_FLIGHT_STALE,
        depends_on=SITEMAP_SOURCES,
        lock_timeout=30.0,
        notes="Apart from the other pages so that price and stock changes leave it alone.",
        shape=CachedResponse,
    )
)

FRAGMENTS = declare(
    CacheSpec(
        namespace="storefront.fragment",
        owner="storefront",
        entity="the rendered product grid of a listing (cards with price and stock)",
        key_schema="grid:<listing kind>:<digest of the listing's cards>",
        # As long as the pages that embed it, and retired the same way: key by key by
        # the prices and shown stock of its cards. Depending on the whole of pricing and
        # inventory, any price or stock write anywhere retired every grid: under the
        # campaign spike not one grid was ever served from the cache.
        ttl=30,
        jitter=0.2,
        invalidated_by=(
            "(any bump of the namespaces it depends on)",
            "(an invalidation of a price or stock it shows)",
        ),
        staleness_tolerance=40,
        stampede=Stampede.SINGLE_FLIGHT,
        depends_on=("catalog.listing",),
        tracks=PAGE_TRACKS,
        notes="Shared by every URL showing the same cards (filters in another order, "
        "tracking parameters), which the page cache keys apart.",
        shape=SafeString,
    )
)

OPS = declare_state(
    StateSpec(
        prefix="ops:",
        owner="storefront",
        entity="the ops dashboard's ring of metric readings (`readings`), shared by every "
        "worker, and the lock that lets one worker at a time push onto it "
        "(`readings-lock`; storefront.ops.readings)",
        expiry="the ring an hour after the last push; the lock with the push interval",
    )
)

READINESS_PROBES = declare_state(
    StateSpec(
        prefix="readyz:",
        owner="storefront",
        entity="one throwaway key per /readyz probe, written and read back to prove the "
        "cache works (storefront.health)",
        expiry="deleted by the probe; ten seconds at most if the probe dies first",
    )
)

# Written by django-ratelimit (RATELIMIT_CACHE_PREFIX) on the default alias, which
# swallows cache errors: with the cache down, throttles fail open and carts still work.
THROTTLES = declare_state(
    StateSpec(
        prefix="throttle:",
        owner="storefront",
        entity="one request counter per throttle scope, client and window (storefront.throttling)",
        expiry="the window's length plus five seconds",
    )
)
