"""Who owns what, and what each route promises: the store's ownership manifest.

Every URL pattern, cache namespace, external dependency and metric family (signal) has
an owning app. Every route has a p95 latency target (its SLO) and a criticality. The
request metrics put a histogram bucket at each SLO, `/ops/` draws each route against
it, the load-test gates read it, and `python manage.py ownership` prints it. A test
fails when a URL pattern or a `peakstore_*` metric has no entry here.

SLOs are for one request on the reference machine (2 cores, embedded profile) at the
load of the `demo` scenario; payment-bearing routes include the gateway's time.
"""

from toolkit.manifest import (
    CacheNamespaceOwnership,
    Criticality,
    DependencyOwnership,
    ExceptionOwnership,
    OwnershipManifest,
    ReleaseAuthority,
    RouteOwnership,
    SignalOwnership,
)

# Short names: the tables below read as tables.
Route, Cache, Dependency, Signal = (
    RouteOwnership,
    CacheNamespaceOwnership,
    DependencyOwnership,
    SignalOwnership,
)
CRITICAL, CORE, INTERNAL = Criticality.CRITICAL, Criticality.CORE, Criticality.INTERNAL

ROUTES = (
    # Pages (storefront composes them; the owner is the app whose data the page is for).
    Route("pages:home", "catalog", 150, CORE, "home: popular products"),
    Route("pages:category", "catalog", 200, CORE, "category listing with facets"),
    Route("pages:product", "catalog", 200, CORE, "product detail"),
    Route("pages:search", "search", 300, CORE, "search results"),
    Route("pages:cart", "checkout", 250, CRITICAL, "the cart"),
    Route("pages:cart-add", "checkout", 300, CRITICAL, "add to cart (303)"),
    Route("pages:cart-line-update", "checkout", 300, CRITICAL, "change a line (303)"),
    Route("pages:cart-line-remove", "checkout", 300, CRITICAL, "remove a line (303)"),
    Route("pages:cart-coupon", "checkout", 300, CRITICAL, "apply a coupon (303)"),
    Route("pages:checkout", "checkout", 1000, CRITICAL, "checkout form and order placement"),
    Route("pages:order", "checkout", 250, CRITICAL, "order status"),
    Route("pages:robots", "storefront", 50, INTERNAL, "robots.txt"),
    Route("pages:sitemap-index", "catalog", 500, INTERNAL, "sitemap index"),
    Route("pages:sitemap-section", "catalog", 1000, INTERNAL, "sitemap section"),
    # API v1.
    Route("api:product-list", "catalog", 200, CORE),
    Route("api:product-detail", "catalog", 200, CORE),
    Route("api:category-list", "catalog", 150, CORE),
    Route("api:search", "search", 300, CORE),
    Route("api:search-suggest", "search", 100, CORE, "search-as-you-type suggestions"),
    Route("api:cart-list", "checkout", 250, CRITICAL, "create a cart"),
    Route("api:cart-detail", "checkout", 250, CRITICAL),
    Route("api:cart-lines", "checkout", 300, CRITICAL, "add a line"),
    Route("api:cart-line", "checkout", 300, CRITICAL, "change or remove a line"),
    Route("api:cart-coupon", "checkout", 300, CRITICAL),
    Route("api:order-list", "checkout", 1000, CRITICAL, "place an order (payment included)"),
    Route("api:order-detail", "checkout", 250, CRITICAL),
    Route("api:not-found", "storefront", 50, INTERNAL, "JSON 404 under /api/"),
    Route("api:schema", "storefront", 1000, INTERNAL, "OpenAPI schema"),
    Route("api:docs", "storefront", 500, INTERNAL, "Swagger UI"),
    # Operations.
    Route("api:healthz", "storefront", 50, INTERNAL, "liveness probe"),
    Route("api:readyz", "storefront", 1000, INTERNAL, "readiness probe (broker timeout 1 s)"),
    Route("ops:metrics", "storefront", 250, INTERNAL, "Prometheus exposition"),
    Route("ops:dashboard", "storefront", 500, INTERNAL, "staff dashboard"),
    Route("ops:data", "storefront", 500, INTERNAL, "dashboard data"),
    Route("ops:traces", "storefront", 500, INTERNAL, "kept traces (toolkit.tracing's ring)"),
    Route("ops:trace", "storefront", 500, INTERNAL, "one trace as a waterfall"),
    Route("releases:data", "releases", 500, INTERNAL, "release flags, steps, decisions (JSON)"),
    Route("releases:decide", "releases", 500, INTERNAL, "a person's release decision (POST)"),
    Route("reconciliation:data", "reconciliation", 500, INTERNAL, "the exception queue (JSON)"),
    Route("reconciliation:act", "reconciliation", 500, INTERNAL, "a person's action (POST)"),
    Route("admin:*", "storefront", 1000, INTERNAL, "Django admin"),
    Route("backoffice:price-set", "pricing", 500, INTERNAL, "back-office price write"),
    Route("backoffice:stock-set", "inventory", 500, INTERNAL, "back-office stock write"),
    # Requests no URL pattern answers.
    Route("static", "storefront", 50, INTERNAL, "static files (WhiteNoise)"),
    Route("unmatched", "storefront", 100, INTERNAL, "paths no pattern matches (404)"),
)

CACHE_NAMESPACES = (
    Cache("sessions", "storefront", "cached_db sessions (staff, checkout messages)"),
    Cache("readyz", "storefront", "readiness probe round trips, deleted at once"),
    Cache("ops", "storefront", "the ops dashboard's ring of metric snapshots"),
    Cache("releases", "releases", "release flag snapshot, versioned by generation"),
)

DEPENDENCIES = (
    Dependency("payment", "integrations", CRITICAL, "payment gateway: authorize, capture"),
    Dependency("tax", "integrations", CRITICAL, "tax rates at checkout (last known on failure)"),
    Dependency("shipping", "integrations", CRITICAL, "shipping rates at checkout (last known)"),
    Dependency("recommendations", "integrations", CORE, "product page widget (left out)"),
    Dependency("reviews", "integrations", CORE, "product page reviews (a quiet notice)"),
    Dependency("erp", "integrations", INTERNAL, "order export from the outbox"),
    Dependency("pim", "integrations", INTERNAL, "price imports (the task retries)"),
)

SIGNALS = (
    Signal("peakstore_http_request_duration_seconds", "toolkit", "latency by route"),
    Signal("peakstore_http_responses", "toolkit", "responses by route and status class"),
    Signal("peakstore_http_request_timeouts", "toolkit", "requests over SLO x factor"),
    Signal("peakstore_http_requests_in_flight", "toolkit", "requests being handled"),
    Signal("peakstore_http_request_queries", "toolkit", "SQL statements per request"),
    Signal("peakstore_http_duplicate_query_requests", "toolkit", "requests with N+1 suspects"),
    Signal("peakstore_http_duplicate_queries", "toolkit", "repeated statements by fingerprint"),
    Signal("peakstore_db_reads_routed", "toolkit", "reads routed to a replica or primary, why"),
    Signal("peakstore_celery_tasks", "toolkit", "task runs by final state"),
    Signal("peakstore_celery_task_duration_seconds", "toolkit", "task run time"),
    Signal("peakstore_celery_task_queue_wait_seconds", "toolkit", "publish to start"),
    Signal("peakstore_celery_queue_depth", "toolkit", "messages waiting, read at scrape"),
    Signal("peakstore_celery_broker_up", "toolkit", "the broker answered the depth probe"),
    Signal("peakstore_cache_events", "toolkit", "cache hits, misses, ... by namespace"),
    Signal("peakstore_page_cache_tagged_lookups", "toolkit", "campaign landings: hit or miss"),
    Signal("peakstore_lab_mode", "toolkit", "failure-mode lab modes on, read at scrape"),
    Signal("peakstore_dependency_calls", "integrations", "calls by dependency and outcome"),
    Signal("peakstore_dependency_latency_seconds", "integrations", "call wall time"),
    Signal("peakstore_dependency_breaker_state", "integrations", "0 closed, 1 half, 2 open"),
    Signal("peakstore_pricing_evaluation_bound_hit", "pricing", "carts past the rule bound"),
    Signal("peakstore_pricing_evaluations_per_cart", "pricing", "rule checks per priced cart"),
    Signal("peakstore_checkout_funnel", "checkout", "buyers reaching each checkout step"),
    Signal("peakstore_outbox_publish_failures", "checkout", "outbox messages not queued"),
    Signal("peakstore_outbox_dead_letters", "checkout", "outbox messages given up on"),
    Signal("peakstore_outbox_backlog", "checkout", "outbox messages waiting for delivery"),
    Signal("peakstore_outbox_oldest_age_seconds", "checkout", "oldest waiting message's age"),
    Signal("peakstore_dependency_retries", "integrations", "retried attempts by dependency"),
    Signal("peakstore_release_request_duration_seconds", "releases", "latency by flag, cohort"),
    Signal("peakstore_release_request_errors", "releases", "5xx by flag and cohort"),
    Signal("peakstore_release_request_timeouts", "releases", "timeouts by flag and cohort"),
    Signal("peakstore_release_checkouts", "releases", "checkout steps by flag and cohort"),
    Signal("peakstore_requests_shed", "storefront", "requests shed by admission control"),
    Signal("peakstore_admission_expected_wait_seconds", "storefront", "queue wait estimate"),
    Signal("peakstore_admission_budget_seconds", "storefront", "wait budget by route class"),
    Signal("peakstore_admission_overload_wait_seconds", "storefront", "overload threshold"),
    Signal("peakstore_reconciliation_differences", "reconciliation", "drift found by routine"),
    Signal("peakstore_reconciliation_repairs", "reconciliation", "drift repaired by routine"),
    Signal("peakstore_reconciliation_runs", "reconciliation", "runs by routine and ending"),
    Signal("peakstore_reconciliation_exceptions_open", "reconciliation", "by kind and age"),
    Signal("peakstore_reconciliation_operator_actions", "reconciliation", "people's actions"),
)

# Release flags and kill switches (declared in storefront/releases.py): who owns each and
# who may stop it. Stopping a kill switch degrades its feature at once; the gate stops
# rollouts on its own. Anyone stopping needs the permission releases.stop_releaseflag.
RELEASES = (
    ReleaseAuthority(
        "recommendations-v2",
        "integrations",
        "the on-call engineer or the gate",
        "new recommendations ranking on the product page (rollout)",
    ),
    ReleaseAuthority(
        "recommendations",
        "integrations",
        "the on-call engineer, or ops during a campaign",
        "kill switch: product pages without recommendations",
    ),
    ReleaseAuthority(
        "reviews",
        "integrations",
        "the on-call engineer, or ops during a campaign",
        "kill switch: product pages without reviews",
    ),
    ReleaseAuthority(
        "search-facets",
        "search",
        "the on-call engineer, or ops during a campaign",
        "kill switch: search results without facet counts",
    ),
)

# Reconciliation exceptions (reconciliation/): each kind's owner works the queue on /ops/,
# following its runbook.
EXCEPTIONS = tuple(
    ExceptionOwnership(kind, owner, f"docs/runbooks/{kind}.md", description)
    for kind, owner, description in (
        ("stock.mismatch", "inventory", "on hand differs from the ERP beyond policy"),
        ("stock.missing", "inventory", "the ERP holds units of a SKU the store has no stock for"),
        ("price.mismatch", "pricing", "a list price differs from the PIM beyond policy"),
        ("price.missing", "pricing", "the PIM prices a SKU the store has no list price for"),
        ("payment.unknown_capture", "checkout", "the gateway captured money for no paid order"),
        ("payment.missing_capture", "checkout", "a paid order has no capture at the gateway"),
        ("payment.amount_mismatch", "checkout", "a capture's amount is not its order's total"),
        ("payment.stuck_pending", "checkout", "an order waits for its payment's outcome"),
        ("order.export_missing", "checkout", "the ERP never acknowledged a paid order"),
        ("outbox.dead_letter", "checkout", "an outbox message was given up on"),
        ("search.stale", "search", "the search read model disagrees with pricing or stock"),
    )
)

MANIFEST = OwnershipManifest(
    routes=ROUTES,
    cache_namespaces=CACHE_NAMESPACES,
    dependencies=DEPENDENCIES,
    signals=SIGNALS,
    releases=RELEASES,
    exceptions=EXCEPTIONS,
)
