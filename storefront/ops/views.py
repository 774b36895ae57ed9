"""`/metrics` for Prometheus, and `/ops/` with its data for staff.

`/metrics` is for the scraper (as /healthz is for the load balancer): ops access
(`storefront.ops.access`) lets in only the token's bearers or the allowed networks once
either is configured, as production requires.
"""

import re
from dataclasses import asdict

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from reconciliation.interface import exceptions_overview
from releases.interface import deploy_steps_recent, releases_overview
from storefront.celery import app as celery_app
from storefront.ops.access import ops_access_required
from storefront.ops.dashboard import REFRESH_S, dashboard_data
from storefront.ops.readings import reading_take, ring_update
from storefront.ops.traces import waterfall_build
from toolkit.lab import LabModeCollector, lab_changes, lab_enabled
from toolkit.manifest import ownership_manifest
from toolkit.metrics import CONTENT_TYPE_LATEST, metrics_exposition
from toolkit.metrics.celery import CeleryQueueCollector
from toolkit.replicas import ReplicaLagCollector, replica_readings
from toolkit.tracing.ring import TraceRing


@require_safe
@never_cache
@ops_access_required
def metrics(request: HttpRequest) -> HttpResponse:
    """Expose every process's metrics, plus the queue depth and replica lag read now."""
    queues = (settings.CELERY_TASK_DEFAULT_QUEUE,)
    extra = [CeleryQueueCollector(celery_app, queues), ReplicaLagCollector(), LabModeCollector()]
    body = metrics_exposition(extra=extra)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _current_data() -> dict:
    now = reading_take()
    ring = ring_update(now)
    # The aggregation is pure (metrics in, panels out); release state is read here.
    return {
        **dashboard_data(ring, now, ownership_manifest()),
        "release_exposures": releases_overview(decisions=6),
        "replicas": _replicas(),
        "lab": {"enabled": lab_enabled(), "changes": [asdict(c) for c in lab_changes(limit=8)]},
        "deploys": _deploys(),
        "exceptions": exceptions_overview(limit=20),
    }


def _replicas() -> list[dict]:
    """Each read replica's latest lag reading (measured now if older than the interval)."""
    max_lag = settings.TOOLKIT_REPLICA_MAX_LAG
    return [
        {
            "alias": reading.alias,
            "lag_ms": None if reading.lag_seconds is None else reading.lag_seconds * 1000,
            "lag_bytes": reading.lag_bytes,
            "in_rotation": reading.in_rotation(max_lag),
            "paused": reading.paused,
            "error": reading.error,
            "max_lag_ms": max_lag * 1000,
        }
        for reading in replica_readings()
    ]


def _deploys() -> list[dict]:
    """The latest deploy steps (`manage.py deploy`), newest first: markers for the charts."""
    return [
        {
            "deploy": step.deploy,
            "step": step.step,
            "ok": step.ok,
            "started_at": step.started_at.isoformat(),
            "seconds": round(step.seconds, 1),
            "detail": step.detail,
        }
        for step in deploy_steps_recent(limit=10)
    ]


@require_safe
@never_cache
@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The live dashboard: rendered whole here, then refreshed by its script."""
    data = _current_data()
    return render(request, "storefront/ops/dashboard.html", {"data": data, "refresh": REFRESH_S})


@require_safe
@never_cache
@staff_member_required
def dashboard_data_json(request: HttpRequest) -> JsonResponse:
    """The dashboard's data, with its panels rendered as HTML for the script to swap in."""
    data = _current_data()
    panels = render_to_string("storefront/ops/_panels.html", {"data": data}, request=request)
    return JsonResponse({**data, "panels_html": panels})


_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def _trace_ring() -> TraceRing:
    return TraceRing(
        settings.PEAKSTORE_TRACING_RING_PATH, capacity=settings.PEAKSTORE_TRACING_RING_SIZE
    )


@require_safe
@never_cache
@staff_member_required
def traces(request: HttpRequest) -> HttpResponse:
    """The kept traces of every process of this stack, newest first.

    `?request_id=<X-Request-ID>` goes to that request's trace when it was kept (a load
    test report's slowest requests link so), else lists the rest with a notice.
    """
    ring = _trace_ring()
    wanted = request.GET.get("request_id", "")[:128]
    if wanted and (trace_id := ring.trace_for_request(wanted)):
        return redirect("ops:trace", trace_id=trace_id)
    context = {
        "not_kept": wanted,
        "traces": ring.recent(limit=200),
        "otlp_endpoint": settings.PEAKSTORE_TRACING_OTLP_ENDPOINT,
        "enabled": settings.PEAKSTORE_TRACING_ENABLED,
        "sample_share": settings.PEAKSTORE_TRACING_SAMPLE_SHARE,
    }
    return render(request, "storefront/ops/traces.html", context)


@require_safe
@never_cache
@staff_member_required
def trace_detail(request: HttpRequest, trace_id: str) -> HttpResponse:
    """One trace as a waterfall, its SQL grouped by statement shape."""
    trace_id = trace_id.lower()
    if not _TRACE_ID.fullmatch(trace_id):
        raise Http404("not a trace id")
    waterfall = waterfall_build(trace_id, _trace_ring().spans(trace_id))
    if waterfall is None:
        raise Http404("no such trace in the ring")
    return render(request, "storefront/ops/trace.html", {"waterfall": waterfall})
