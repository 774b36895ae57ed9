"""Liveness and readiness probes for load balancers and orchestrators.

`/healthz` says the process answers: it touches nothing, so a slow database never makes
an orchestrator restart healthy web workers. `/readyz` says the process can serve: it
checks each backing service with a short timeout and names the ones that are down. Both
always answer JSON; a failing check is a 503 with details, never a 500.
"""

import logging
import secrets
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from storefront.celery import app as celery_app

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 1.0


def database_check() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise RuntimeError("SELECT 1 did not return 1")


def cache_check() -> None:
    # A fresh key per probe: concurrent probes from several workers never see each other.
    key = f"readyz:{secrets.token_hex(8)}"
    value = secrets.token_hex(8)
    cache.set(key, value, timeout=10)
    try:
        if cache.get(key) != value:
            raise RuntimeError("the cache did not return what was written")
    finally:
        cache.delete(key)


def broker_check() -> None:
    # max_retries=0: one attempt, so a dead broker costs at most the connect timeout.
    with celery_app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)


READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": database_check,
    "cache": cache_check,
    "broker": broker_check,
}


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer that the process is alive, without touching any backing service."""
    return JsonResponse({"status": "ok"})


@require_safe
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Run every readiness check; 200 if all pass, else 503 naming what is down."""
    checks = {}
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception:
            logger.warning("readiness check %s failed", name, exc_info=True)
            checks[name] = "down"
        else:
            checks[name] = "ok"
    down = [name for name, result in checks.items() if result == "down"]
    if not down:
        return JsonResponse({"status": "ready", "checks": checks})
    state = "unavailable" if len(down) == len(checks) else "degraded"
    return JsonResponse({"status": state, "checks": checks}, status=503)
