"""Settings shared by every profile. Profile modules override only what differs."""

import logging
from typing import Any

from storefront.settings.environment import BASE_DIR, ENV, TRACE_RING_FILE
from storefront.settings.keyfile import secret_key_load_or_create

# No key ships in the code: without DJANGO_SECRET_KEY a store makes its own and keeps it
# with its data, shared by every process (keyfile.py). Production requires the variable.
SECRET_KEY = ENV.secret_key or secret_key_load_or_create(ENV.var_dir)
DEBUG = ENV.debug
ALLOWED_HOSTS = list(ENV.allowed_hosts) or ["127.0.0.1", "localhost", "[::1]", "testserver"]
PEAKSTORE_PROFILE = ENV.profile
PEAKSTORE_VAR_DIR = ENV.var_dir

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "toolkit",
    "integrations",
    "catalog",
    "pricing",
    "inventory",
    "search",
    "checkout",
    "releases",
    "reconciliation",
    "storefront",
    # Development tooling (run_stack, demo, loadtest, seed_store, benchmarks): not in
    # production, which starts gunicorn and Celery itself.
    "devstack",
    # Only in the deploy-during-spike scenario's deploy (devstack/demo_release/).
    *(["devstack.demo_release"] if ENV.demo_release else []),
]

MIDDLEWARE = [
    # Reserves the request's trace id; the request's span starts after the page cache
    # (ServerSpanMiddleware), so a warm hit makes no span unless kept.
    "toolkit.tracing.django.TraceRootMiddleware",
    # Outermost: every later middleware's log lines carry the request id, and the
    # metrics time everything, cached answers and redirects included.
    "toolkit.request_context.RequestIdMiddleware",
    # One line per request, shed and cached answers included (PEAKSTORE_ACCESS_LOG=1).
    "toolkit.accesslog.AccessLogMiddleware",
    # Before the metrics: a shed request is counted as shed, never as a 5xx of its route.
    "storefront.admission.AdmissionMiddleware",
    "toolkit.metrics.http.RequestMetricsMiddleware",
    # Security headers are set outside the page cache's fast path, so a cached page
    # carries exactly the headers of a rendered one.
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A body past DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 before anything reads it.
    "storefront.request_limits.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A warm public page is answered here: nothing below runs for it.
    "storefront.page_cache.PageCacheMiddleware",
    # The request's span, for what got past the page cache (none when tracing is off).
    "toolkit.tracing.django.ServerSpanMiddleware",
    # Below the fast path: a warm hit never asks where its reads would go.
    "storefront.replica_routes.ReplicaReadsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Release flags and cohorts per request (needs the user and the resolved route).
    "releases.cohorts.ReleaseMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "storefront.urls"
WSGI_APPLICATION = "storefront.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "storefront.context_processors.store",
            ],
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = ENV.var_dir / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
LOGIN_URL = "/admin/login/"

REST_FRAMEWORK = {
    # The API addresses carts and orders by unguessable tokens, not by session, so it
    # needs no session authentication (and therefore no CSRF token).
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser with the nesting bounded (toolkit.query.MAX_JSON_DEPTH).
    "DEFAULT_PARSER_CLASSES": ["storefront.api.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "storefront.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Peakstore API",
    "DESCRIPTION": (
        "Storefront API v1. Errors share one shape: "
        '`{"error": {"code": "<machine_code>", "message": "<human text>", "details": {}}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# Every request body, page form or API JSON, is at most this many bytes: the largest the
# store takes is a checkout form of about 1 KB (storefront/request_limits.py answers 413).
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

# Celery: the broker comes from the profile; everything else is shared.
CELERY_TASK_ALWAYS_EAGER = ENV.celery_always_eager
CELERY_TASK_DEFAULT_QUEUE = ENV.celery_queue
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Every task is bounded: past the soft limit it gets SoftTimeLimitExceeded to clean up,
# past the hard one its pool process is killed. Tasks that need other bounds set their
# own (checkout.tasks, checkout.outbox).
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
# A publisher (a request's after-commit work) never waits long on a broker that is down:
# a connect gives up after 2 s, and a failed publish is retried once, 0.2 s later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2.0
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
if ENV.celery_broker_url.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "socket_connect_timeout": 2.0,
        "socket_timeout": 5.0,
    }
PRICING_WINDOWS_PUBLISH_EVERY = 60  # seconds between checks for campaign windows
CELERY_BEAT_SCHEDULE = {
    "orders-reconcile-pending": {
        "task": "checkout.tasks.orders_reconcile_pending",
        "schedule": 30.0,
    },
    "outbox-dispatch-pending": {"task": "checkout.tasks.outbox_dispatch_pending", "schedule": 30.0},
    "idempotency-records-purge": {
        "task": "checkout.tasks.idempotency_records_purge_task",
        "schedule": 3600.0,
    },
    # The release gate: judge running rollouts on their cohort metrics (releases.tasks).
    "releases-evaluate": {
        "task": "releases.tasks.releases_evaluate_task",
        "schedule": ENV.releases_evaluate_every,
    },
    "stock-reservations-purge": {
        "task": "inventory.tasks.stock_reservations_purge_task",
        "schedule": 300.0,
    },
    # Campaign price lists start and end without a write: tell search (pricing.tasks).
    "pricing-windows-publish": {
        "task": "pricing.tasks.price_windows_publish_task",
        "schedule": float(PRICING_WINDOWS_PUBLISH_EVERY),
    },
    # Samples every cache namespace against its system of record; anomalies are metrics.
    "cache-audit": {"task": "toolkit.tasks.cache_audit_task", "schedule": 300.0},
    # Compare the store with each system of record (reconciliation.routines).
    **{
        f"reconcile-{routine}": {
            "task": "reconciliation.tasks.reconcile_task",
            "schedule": every,
            "args": (routine,),
        }
        for routine, every in (
            ("inventory", 900.0),
            ("prices", 900.0),
            ("payments", 600.0),
            ("orders", 600.0),
            ("search", 900.0),
        )
    },
}
# What a reconciliation run may repair on its own (reconciliation/routines.py); the rest
# becomes an exception for its owner. Per run: at most max_repairs changes, each within
# its size limit.
RECONCILIATION_POLICY: dict[str, dict[str, int | float]] = {
    "inventory": {"max_units": 20, "max_repairs": 200},
    "prices": {"max_change": 0.10, "max_repairs": 200},
    "orders": {"max_repairs": 50},
    "search": {"max_repairs": 1000},
}
# Systems of record: prices imported from the PIM, stock levels synced from the ERP, in
# keyset batches of at most what each upstream answers per call (100 SKUs).
PRICING_PIM_SYNC_EVERY = 3600
PRICING_PIM_SYNC_BATCH = 100
INVENTORY_ERP_SYNC_EVERY = 900
INVENTORY_ERP_SYNC_BATCH = 100
CELERY_BEAT_SCHEDULE["prices-sync-from-pim"] = {
    "task": "pricing.tasks.prices_sync_from_pim_task",
    "schedule": float(PRICING_PIM_SYNC_EVERY),
}
CELERY_BEAT_SCHEDULE["stock-sync-from-erp"] = {
    "task": "inventory.tasks.stock_sync_from_erp_task",
    "schedule": float(INVENTORY_ERP_SYNC_EVERY),
}

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = ENV.var_dir / "mail"
DEFAULT_FROM_EMAIL = "orders@peakstore.example"

# Store settings, prefixed by the app that reads them.
STORE_NAME = "Peakstore"
STORE_CURRENCY = "EUR"
CATALOG_PAGE_SIZE = 24
CHECKOUT_MAX_LINE_QUANTITY = ENV.checkout_max_line_quantity
CHECKOUT_MAX_CART_LINES = ENV.checkout_max_cart_lines
CHECKOUT_CART_COOKIE = "peakstore_cart"
INVENTORY_RESERVATION_TTL = ENV.inventory_reservation_ttl
# A cart's holds end this long after its first one, whatever the cart does since; one
# client's holds on a SKU, over all its carts, never pass this share of its units on
# hand, or the floor when that is more (inventory.services.reservation_cap).
INVENTORY_RESERVATION_MAX_LIFETIME = 30 * 60
INVENTORY_RESERVATION_MAX_SHARE = 0.1
INVENTORY_RESERVATION_SHARE_FLOOR = 5
CHECKOUT_IDEMPOTENCY_TTL = ENV.checkout_idempotency_ttl
CHECKOUT_IDEMPOTENCY_LEASE = 60  # seconds before an in-flight key of a dead request frees
# Failed deliveries of one outbox message before it is dead-lettered (checkout/outbox.py).
CHECKOUT_OUTBOX_MAX_ATTEMPTS = 10
CHECKOUT_RECONCILE_AFTER = ENV.checkout_reconcile_after
# An order still pending this long after its creation is an audit violation.
CHECKOUT_RECONCILE_WINDOW = 10 * 60
# Rule checks the pricing engine may spend on one cart; past it, remaining promotions
# are not considered and the bound-hit metric counts the cart.
PRICING_MAX_EVALUATIONS = 2_000
# The combined discount of promotions and coupon never exceeds this share of a cart.
PRICING_MAX_COMBINED_DISCOUNT_PERCENT = 100
PRICING_PRICE_CACHE_TTL = 300  # seconds; price writes through pricing purge at once
PRICING_INDEX_MAX_AGE = 300  # seconds before a process recompiles its promotion index
# Seconds a search may take: past half of it facets are skipped, past all of it the
# facet queries are cancelled; either way results are served and marked degraded.
SEARCH_LATENCY_BUDGET = 0.25
# The most popular matches a search counts ("250+"), ranks by relevance and counts facets
# over: the one part of a search whose work grows with the catalog (search.selectors).
SEARCH_POOL_SIZE = 250
# Seconds over which the read model's refreshes are coalesced: every price, stock and
# product change committed in a process within it becomes one refresh task (toolkit.changes).
# Documents lag their owners by this much more; prices and stock shown on results are
# read live. 0: a task per commit (the tests, whose Celery runs tasks inline).
SEARCH_REFRESH_COALESCE_S = 1.0
INTEGRATIONS_UPSTREAM_URL = ENV.upstream_url
INTEGRATIONS_PAYMENT_TIMEOUT = ENV.integrations_payment_timeout
# The alias owned caches use. Unlike the default alias it raises on a failure, so the
# toolkit can count the failure per namespace before it serves from the database.
TOOLKIT_CACHE_ALIAS = "toolkit"
TOOLKIT_CACHE_RETRY_AFTER = 1.0  # seconds a process leaves a failed cache server alone
TOOLKIT_CACHE_AUDIT_SAMPLE = 200  # entries per namespace the audit compares
# Read replicas (toolkit/replicas.py, docs/scale-out.md): the services profile names
# an alias per DATABASE_REPLICA_URL; the router sends the reads of these apps there, on
# the routes the storefront marks read-only, while a replica keeps up.
DATABASE_ROUTERS = ["toolkit.replicas.ReplicaRouter"]
TOOLKIT_DB_REPLICAS: tuple[str, ...] = ()
TOOLKIT_REPLICA_APPS = frozenset({"catalog", "pricing", "inventory", "search"})
TOOLKIT_REPLICA_MAX_LAG = ENV.replica_max_lag
TOOLKIT_REPLICA_CHECK_INTERVAL = ENV.replica_check_interval

# Observability (docs/architecture.md, "Observability").
PEAKSTORE_OWNERSHIP_MANIFEST = "storefront.ownership.MANIFEST"
PEAKSTORE_METRICS_ENABLED = ENV.metrics_enabled
PEAKSTORE_ACCESS_LOG = ENV.access_log
# The formats a person reads (logging_config below); "plain" is the console's older name.
CONSOLE_LOG_FORMATS = frozenset({"console", "plain"})
# A person reads a console, not 3,000 lines a second: past this many lines a second per
# process the rest of that second is counted and summed up in one line (toolkit/accesslog.py).
# A log shipper (JSON) gets every request.
PEAKSTORE_ACCESS_LOG_LINES_PER_SECOND = 10 if ENV.log_format in CONSOLE_LOG_FORMATS else None
PEAKSTORE_METRICS_MULTIPROC_DIR = ENV.metrics_multiproc_dir
PEAKSTORE_METRICS_TIMEOUT_FACTOR = ENV.metrics_timeout_factor
# Tracing (toolkit/README.md, "Tracing"): kept traces in a ring file of the var dir,
# shared by every process of the stack, or sent to OTLP_ENDPOINT when set.
PEAKSTORE_TRACING_ENABLED = ENV.tracing_enabled
PEAKSTORE_TRACING_SERVICE = "peakstore"
PEAKSTORE_TRACING_SAMPLE_SHARE = ENV.tracing_sample_share
PEAKSTORE_TRACING_RING_PATH = ENV.var_dir / TRACE_RING_FILE
PEAKSTORE_TRACING_RING_SIZE = ENV.tracing_ring_size
PEAKSTORE_TRACING_OTLP_ENDPOINT = ENV.otlp_endpoint
INTEGRATIONS_RESILIENCE = ENV.integrations_resilience
# Release exposure (toolkit/README.md, "Releases"): who `rollout` decides as by default.
PEAKSTORE_RELEASE_ACTOR = ENV.release_actor
# Extra seconds the demonstration flag "recommendations-v2" spends re-ranking.
STOREFRONT_RECOMMENDATIONS_V2_DELAY = ENV.recommendations_v2_delay
# Admission control (storefront/admission.py). The store is overloaded once the expected
# wait for a worker stands past OVERLOAD_WAIT; while it is, a request that waited past its
# class's budget is refused (critical and exempt routes never are). Browse: half the
# category and product pages' p95 SLO (200 ms, storefront/ownership.py): a request
# admitted after waiting its budget still has the other half to be served in. Deep
# listing pages: less, few read them and they are the likeliest to miss the cache. Bots:
# a quarter of the SLO, nobody waits at a screen and they follow Retry-After. The
# overload wait: above the queues random arrivals stand at 80% of capacity on a slow
# machine (bench_overload), below the SLO. Cached pages (a fraction of a millisecond)
# under 64 connections on 2 workers wait about 10-30 ms.
STOREFRONT_ADMISSION_ENABLED = ENV.admission_enabled
STOREFRONT_ADMISSION_BUDGETS = {"bot": 0.05, "deep_browse": 0.075, "browse": 0.1}
STOREFRONT_ADMISSION_OVERLOAD_WAIT = 0.15
STOREFRONT_ADMISSION_DEEP_PAGE = 4
STOREFRONT_ADMISSION_RETRY_AFTER = 2
STOREFRONT_BACKOFFICE_TOKEN = ENV.backoffice_token
# Requests per client (toolkit.clients) and window, per scope (storefront/throttling.py):
# a shopper creates a cart per visit, adds a few lines a minute and types a coupon once
# or twice; a script doing more gets 429. Counted on the default cache by
# django-ratelimit; with the cache down they fail open.
STOREFRONT_THROTTLE_RATES = {"cart_create": "10/m", "cart_lines": "60/m", "coupon_attempt": "10/m"}
RATELIMIT_CACHE_PREFIX = "throttle:"
RATELIMIT_FAIL_OPEN = True
# Peers whose X-Forwarded-For is believed (toolkit/clients.py); never loopback by default.
TRUSTED_PROXIES = ENV.trusted_proxies
# Local profiles only: lets the stack runner's load generator name simulated shoppers.
PEAKSTORE_LOADGEN_KEY = ENV.loadgen_key
PEAKSTORE_LAB = ENV.lab
# Who may read /metrics, /healthz and /readyz: a bearer of the token, or a peer address
# in one of the networks (storefront/ops/access.py). Neither set: everyone.
STOREFRONT_OPS_TOKEN = ENV.ops_token
STOREFRONT_OPS_ALLOWED_NETWORKS = ENV.ops_allowed_networks
# Threads per process for pages' parallel dependency calls; each dependency's bulkhead
# caps its share, so one hanging service cannot take them all.
INTEGRATIONS_FANOUT_THREADS = 8


def logging_config(log_format: str, *, access_log: bool = False) -> dict[str, Any]:
    """LOGGING for a format: "json" (log shippers) or "console" (a person; "plain" is
    its older name). Production asks for JSON whatever the environment says."""
    console = log_format in CONSOLE_LOG_FORMATS
    loggers: dict[str, Any] = {
        "django.db.backends": {"level": "INFO"},
        # One line per upstream request drowns the log; failures are logged by the clients.
        "httpx": {"level": "WARNING"},
    }
    if console and access_log:
        # Django's "Not Found: /x" repeats the access line; 5xx keep their traceback.
        loggers["django.request"] = {"level": "ERROR"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "toolkit.request_context.RequestIdLogFilter"}},
        "formatters": {
            "json": {"()": "toolkit.jsonlog.JsonFormatter"},
            # One short line a record, coloured on a TTY ("plain" is its older name).
            "console": {"()": "toolkit.consolelog.ConsoleFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "console" if console else "json",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": ENV.log_level},
        "loggers": loggers,
    }


LOGGING = logging_config(ENV.log_format, access_log=ENV.access_log)
# No format here prints a record's thread or the file and line that logged it: skip
# looking them up for every record (the logging HOWTO's "Optimization"). With the access
# log on, a warm page logs a record per request, and the lookups were a tenth of its cost.
logging.logThreads = False
logging._srcfile = None

del BASE_DIR
