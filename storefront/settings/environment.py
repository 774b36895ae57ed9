"""Every switch Peakstore reads from the environment, read here and nowhere else.

The profile follows from what is set: no `DATABASE_URL` means the embedded profile
(SQLite, disk cache, filesystem broker); `DATABASE_URL` means the services profile.
"""

import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Where a store run alone finds the upstream simulator (`make run` at PORT 8000 starts it
# at 8101).
DEFAULT_UPSTREAM_URL = "http://127.0.0.1:8101"
# Written into PEAKSTORE_VAR_DIR by the stack runner while its stack runs (devstack).
STACK_FILE = "stack.json"
# The embedded trace ring every process of a stack writes kept traces to (toolkit.tracing).
TRACE_RING_FILE = "traces.sqlite3"


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def _networks(name: str) -> tuple[str, ...]:
    """A comma-separated list of addresses and networks (`10.0.0.0/8`), each checked."""
    networks = tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(f"{name}: {network!r} is not an IP address or network") from None
    return networks


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # someone else's process, but alive
    except OSError:
        return False
    return True


def running_stack(var_dir: Path) -> dict[str, Any] | None:
    """Describe the stack running on this var dir (`base_url`, `upstream_url`, `pid`).

    None when no stack runs there, or when the one that wrote the file died without
    removing it. Several stacks may run at once, each on its own var dir, so a command
    run with a stack's PEAKSTORE_VAR_DIR finds that stack.
    """
    try:
        described = json.loads((var_dir / STACK_FILE).read_text())
        pid = int(described["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return described if isinstance(described, dict) and _alive(pid) else None


def _upstream_url(var_dir: Path) -> str:
    """The variable if set, else the simulator of the stack running on this var dir."""
    if url := os.environ.get("INTEGRATIONS_UPSTREAM_URL", "").strip():
        return url
    stack = running_stack(var_dir) or {}
    return str(stack.get("upstream_url") or DEFAULT_UPSTREAM_URL)


@dataclass(frozen=True)
class Environment:
    debug: bool
    secret_key: str
    allowed_hosts: tuple[str, ...]
    var_dir: Path
    database_url: str
    redis_url: str
    celery_broker_url: str
    celery_always_eager: bool
    celery_queue: str
    cache_key_prefix: str
    log_level: str
    log_format: str
    access_log: bool
    checkout_max_line_quantity: int
    checkout_max_cart_lines: int
    inventory_reservation_ttl: int
    checkout_idempotency_ttl: int
    checkout_reconcile_after: int
    port: int
    demo_serve: bool
    upstream_url: str
    integrations_payment_timeout: float
    metrics_enabled: bool
    metrics_multiproc_dir: str
    metrics_timeout_factor: float
    integrations_resilience: bool
    admission_enabled: bool
    backoffice_token: str
    ops_token: str
    ops_allowed_networks: tuple[str, ...]
    release_actor: str
    releases_evaluate_every: float
    recommendations_v2_delay: float
    trusted_proxies: tuple[str, ...]
    loadgen_key: str
    lab: bool
    tracing_enabled: bool
    tracing_sample_share: float
    tracing_ring_size: int
    otlp_endpoint: str

    database_replica_urls: tuple[str, ...] = ()
    replica_max_lag: float = 5.0
    replica_check_interval: float = 1.0
    demo_release: bool = False

    @property
    def profile(self) -> str:
        return "services" if self.database_url else "embedded"


def read_environment() -> Environment:
    var_dir = Path(os.environ.get("PEAKSTORE_VAR_DIR", BASE_DIR / "var")).resolve()
    return Environment(
        debug=_flag("DJANGO_DEBUG"),
        secret_key=os.environ.get("DJANGO_SECRET_KEY", ""),
        allowed_hosts=tuple(
            host.strip()
            for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")
            if host.strip()
        ),
        var_dir=var_dir,
        database_url=os.environ.get("DATABASE_URL", ""),
        redis_url=os.environ.get("REDIS_URL", ""),
        celery_broker_url=os.environ.get("CELERY_BROKER_URL", ""),
        celery_always_eager=_flag("CELERY_TASK_ALWAYS_EAGER"),
        # Stacks sharing one broker or one Redis (tests beside a demo) each name their
        # own queue and key prefix, so no stack consumes another's tasks or cache entries.
        celery_queue=os.environ.get("PEAKSTORE_CELERY_QUEUE", "celery"),
        cache_key_prefix=os.environ.get("PEAKSTORE_CACHE_KEY_PREFIX", "peakstore"),
        log_level=os.environ.get("PEAKSTORE_LOG_LEVEL", "INFO"),
        # "json" (one object per line, with the request id) or "console" for a terminal
        # (toolkit.consolelog); `make run` and `make demo` choose "console" unless set.
        log_format=os.environ.get("PEAKSTORE_LOG_FORMAT", "json"),
        # One line per request (toolkit.accesslog); the stack runner turns it on.
        access_log=_flag("PEAKSTORE_ACCESS_LOG"),
        checkout_max_line_quantity=_int("CHECKOUT_MAX_LINE_QUANTITY", 20),
        checkout_max_cart_lines=_int("CHECKOUT_MAX_CART_LINES", 50),
        # Seconds a cart holds the units it added; 0 turns reservations off.
        inventory_reservation_ttl=_int("INVENTORY_RESERVATION_TTL", 900),
        checkout_idempotency_ttl=_int("CHECKOUT_IDEMPOTENCY_TTL", 24 * 3600),
        # Seconds a pending payment is left to its own request before reconciliation
        # asks the gateway what happened; longer than the payment client's whole budget.
        checkout_reconcile_after=_int("CHECKOUT_RECONCILE_AFTER", 60),
        # Read by `run_stack`, `demo` and `loadtest`, not by Django settings.
        port=_int("PORT", 8000),
        demo_serve=_flag("DEMO_SERVE", default=True),
        # The deploy-during-spike scenario's deploy only: installs devstack.demo_release,
        # whose migration adds a column and an index to the products table.
        demo_release=_flag("PEAKSTORE_DEMO_RELEASE"),
        # The upstream simulator (or the real services' gateway) every client talks to.
        # Unset: the simulator of the stack running on this var dir, so `faults` and
        # `audit_orders` beside `make run PORT=9000` talk to its simulator at 9101.
        upstream_url=_upstream_url(var_dir),
        # Seconds a payment call waits for an answer before its outcome counts as unknown.
        integrations_payment_timeout=_float("INTEGRATIONS_PAYMENT_TIMEOUT", 2.0),
        # Off only to measure what the request metrics cost (the overhead benchmark).
        metrics_enabled=_flag("PEAKSTORE_METRICS_ENABLED", default=True),
        # prometheus_client reads it too, at import: every process of a stack writes its
        # samples there and /metrics merges them. Unset: one process, its own registry.
        metrics_multiproc_dir=os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""),
        # A request slower than its route's SLO times this counts as a timeout.
        metrics_timeout_factor=_float("PEAKSTORE_METRICS_TIMEOUT_FACTOR", 4.0),
        # Circuit breakers, bulkheads and page fan-out deadlines; 0 only to measure
        # what they are worth (the benchmark's comparison run).
        integrations_resilience=_flag("INTEGRATIONS_RESILIENCE", default=True),
        # Shed non-critical requests past saturation; 0 only to measure what it is worth.
        admission_enabled=_flag("PEAKSTORE_ADMISSION", default=True),
        # The back-office write API (prices, stock) is off unless a token is set.
        backoffice_token=os.environ.get("PEAKSTORE_BACKOFFICE_TOKEN", ""),
        # /metrics, /healthz and /readyz answer a request bearing this token, or coming
        # from one of these networks; with neither set they answer everyone (local
        # profiles). Production needs one of them (storefront/ops/access.py).
        ops_token=os.environ.get("PEAKSTORE_OPS_TOKEN", ""),
        ops_allowed_networks=_networks("PEAKSTORE_OPS_ALLOWED_NETWORKS"),
        # The username `manage.py rollout` decides as without --actor (none: --actor needed).
        release_actor=os.environ.get("PEAKSTORE_RELEASE_ACTOR", ""),
        # Seconds between two judgements of the running rollouts by the release gate.
        releases_evaluate_every=_float("PEAKSTORE_RELEASES_EVALUATE_EVERY", 5.0),
        # How much slower the demonstration flag "recommendations-v2" makes a product page.
        recommendations_v2_delay=_float("STOREFRONT_RECOMMENDATIONS_V2_DELAY", 0.25),
        # Proxies whose X-Forwarded-For names the client (toolkit/clients.py): addresses
        # or networks. None by default, loopback included: a local sender cannot pose as
        # another client.
        trusted_proxies=_networks("PEAKSTORE_TRUSTED_PROXIES"),
        # The stack runner's per-run key that lets its load generator speak for many
        # simulated shoppers (toolkit/clients.py); production settings ignore it.
        loadgen_key=os.environ.get("PEAKSTORE_LOADGEN_KEY", ""),
        # The failure-mode lab (toolkit/lab.py): its switches select naive code paths for
        # study. `make lab` and the workshop set it; production settings ignore it.
        lab=_flag("PEAKSTORE_LAB"),
        # Streaming standbys of DATABASE_URL, comma-separated; the read paths of catalog,
        # search and the API's GETs go to them while they keep up (toolkit/replicas.py).
        database_replica_urls=tuple(
            url.strip()
            for url in os.environ.get("DATABASE_REPLICA_URL", "").split(",")
            if url.strip()
        ),
        # Seconds of replay lag past which a replica leaves rotation until it catches up.
        replica_max_lag=_float("PEAKSTORE_REPLICA_MAX_LAG", 5.0),
        # Seconds a process keeps a replica's lag reading before measuring it again.
        replica_check_interval=_float("PEAKSTORE_REPLICA_CHECK_INTERVAL", 1.0),
        # Tracing (toolkit/tracing): on unless PEAKSTORE_TRACING=0. Kept: every error,
        # every request over its route's SLO, and this share of the rest (sampled at
        # the start, so their Celery tasks and upstream calls are kept with them).
        tracing_enabled=_flag("PEAKSTORE_TRACING", default=True),
        tracing_sample_share=_float("PEAKSTORE_TRACING_SAMPLE", 0.01),
        # Trace fragments the embedded ring (var dir) keeps, all processes together.
        tracing_ring_size=_int("PEAKSTORE_TRACING_RING_SIZE", 500),
        # Set: kept traces go there over OTLP/HTTP (a collector, Jaeger, Tempo) instead.
        otlp_endpoint=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip(),
    )


ENV = read_environment()
