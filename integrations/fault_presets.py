"""The client of the upstream simulator's control API, and its named fault presets.

The presets are defined with the simulator (`integrations.simulator.presets`), which
applies one by name (`POST /_faults/preset/<name>`): `python manage.py faults preset
<name>` and the load tests' shapes ask for them the same way.
"""

from typing import Any

import httpx
from django.conf import settings

from integrations.simulator.drift import KINDS as DRIFT_KINDS
from integrations.simulator.presets import PRESETS
from integrations.simulator.server import CONTROL_HEADER

# Every dependency the simulator plays (simulator.server.dependencies).
DEPENDENCIES = ("payment", "erp", "pim", "tax", "shipping", "recommendations", "reviews")


class UnknownPreset(ValueError):
    pass


def _control(method: str, path: str, *, url: str | None = None, **kwargs: Any) -> Any:
    base = (url or settings.INTEGRATIONS_UPSTREAM_URL).rstrip("/")
    # The header no cross-site page can send: the simulator refuses writes without it.
    response = httpx.request(
        method,
        f"{base}{path}",
        headers={CONTROL_HEADER: "1"},
        timeout=5,
        trust_env=False,
        **kwargs,
    )
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
    return _control("POST", f"/_faults/preset/{name}", url=url)


def drift_inject(kind: str, rate: float, *, url: str | None = None) -> dict[str, Any]:
    """Make the simulator's systems of record drift (`integrations/simulator/drift.py`)."""
    if kind not in DRIFT_KINDS:
        raise ValueError(f"unknown drift kind {kind!r}; known: {', '.join(DRIFT_KINDS)}")
    return _control("POST", f"/_drift/{kind}", url=url, json={"rate": rate})


def drift_record(*, url: str | None = None) -> dict[str, Any]:
    """Every change drift made so far: a test's oracle, never read by reconciliation."""
    return _control("GET", "/_drift", url=url)
