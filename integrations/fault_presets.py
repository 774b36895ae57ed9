"""Named fault scenarios for the upstream simulator, and the client of its control API.

The one place presets are defined: `python manage.py faults preset <name>` applies them,
and load-test shapes can switch them mid-run with `faults_preset_apply`. A preset
describes the whole upstream: every dependency it does not name is made healthy.
"""

from typing import Any

import httpx
from django.conf import settings

# Every dependency the simulator plays (simulator.server.dependencies).
DEPENDENCIES = ("payment", "erp", "pim", "tax", "shipping", "recommendations", "reviews")

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # Everything answers at once.
    "healthy": {},
    # The optional widgets' services stop answering: the product page must not notice.
    "optional-down": {"recommendations": {"hang": True}, "reviews": {"hang": True}},
    # The ERP is slow (p50 800 ms, p99 3 s): imports and exports crawl, pages do not.
    "slow-erp": {"erp": {"latency_ms": [800, 3000]}},
    # One payment call in five fails with 503, answers are slow: retries and breakers.
    "flaky-payment": {"payment": {"error_rate": 0.2, "latency_ms": [150, 900]}},
    # The gateway answers 503 to everything: checkout fails closed, fast.
    "payment-down": {"payment": {"down": True}},
    # A bad afternoon: optional services hang, tax and shipping fail often, ERP is slow.
    "partial-outage": {
        "recommendations": {"hang": True},
        "reviews": {"down": True},
        "tax": {"error_rate": 0.5},
        "shipping": {"reset_rate": 0.3, "latency_ms": [200, 1500]},
        "erp": {"latency_ms": [500, 2000]},
    },
}


class UnknownPreset(ValueError):
    pass


def _control(method: str, path: str, *, url: str | None = None, **kwargs: Any) -> Any:
    base = (url or settings.INTEGRATIONS_UPSTREAM_URL).rstrip("/")
    response = httpx.request(method, f"{base}{path}", timeout=5, trust_env=False, **kwargs)
    response.raise_for_status()
    return response.json()


def faults_status(*, url: str | None = None) -> dict[str, Any]:
    """Return the simulator's seed and every dependency's fault profile."""
    return _control("GET", "/_faults", url=url)


def faults_set(dependency: str, profile: dict[str, Any], *, url: str | None = None) -> Any:
    """Replace one dependency's fault profile; fields left out are healthy."""
    return _control("PUT", f"/_faults/{dependency}", url=url, json=profile)


def faults_preset_apply(name: str, *, url: str | None = None) -> dict[str, Any]:
    """Make every dependency healthy, then apply the preset's profiles; return the status."""
    if name not in PRESETS:
        raise UnknownPreset(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    _control("POST", "/_faults/reset", url=url)
    for dependency, profile in PRESETS[name].items():
        faults_set(dependency, profile, url=url)
    return faults_status(url=url)
