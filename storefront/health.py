"""Liveness and readiness probes for load balancers and orchestrators.

`/healthz` says the process answers: it touches nothing, so a slow database never makes
an orchestrator restart healthy web workers. `/readyz` says whether the process can
serve: it checks each backing service with a short timeout and names the ones that are
down. Both always answer JSON, never a bare 500:

| state | when | status |
|---|---|---|
| `ready` | every check passes | 200 |
| `degraded` | only optional services are down (cache, broker) | 200 |
| `unavailable` | a required service is down (the database) | 503 |

A cache or broker outage is shared by every instance: taking them all out of the load
balancer would turn a slower store (reads go to the database, order emails wait in the
outbox) into no store at all, so those keep the instance in rotation and say so. Without
the database nothing can be served, and the load balancer should know.

Both are served only to whom ops access lets in (`storefront.ops.access`: a bearer
token or allowed networks, required in production; open in the local profiles).
"""

import logging
import secrets
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from storefront.caches import READINESS_PROBES
from storefront.celery import app as celery_app
from storefront.ops.access import ops_access_required

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 1.0


def database_check() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise RuntimeError("SELECT 1 did not return 1")


def cache_check() -> None:
    # A fresh key per probe: concurrent probes from several workers never see each other.
    probe = secrets.token_hex(8)
    value = secrets.token_hex(8)
    READINESS_PROBES.set(probe, value, timeout=10)
    try:
        if READINESS_PROBES.get(probe) != value:
            raise RuntimeError("the cache did not return what was written")
    finally:
        READINESS_PROBES.delete(probe)


def broker_check() -> None:
    # max_retries=0: one attempt, so a dead broker costs at most the connect timeout.
    with celery_app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        # kombu adds the timeout to time(): seconds as a float work; its stubs say int.
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)  # type: ignore[arg-type]


READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": database_check,
    "cache": cache_check,
    "broker": broker_check,
}
# Without these the store serves nothing; the others only make it slower or later.
REQUIRED_CHECKS = frozenset({"database"})


@require_safe
@never_cache
@ops_access_required
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer that the process is alive, without touching any backing service."""
    return JsonResponse({"status": "ok"})


@require_safe
@never_cache
@ops_access_required
def readyz(request: HttpRequest) -> JsonResponse:
    """Run every readiness check; name what is down; 503 only if a required one is."""
    checks = {}
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception:
            logger.warning("readiness check %s failed", name, exc_info=True)
            checks[name] = "down"
        else:
            checks[name] = "ok"
    down = {name for name, result in checks.items() if result == "down"}
    if down & REQUIRED_CHECKS:
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)
    return JsonResponse({"status": "degraded" if down else "ready", "checks": checks})
