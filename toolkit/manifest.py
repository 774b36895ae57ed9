"""The ownership manifest: who owns every route, cache namespace, dependency and signal.

A route also declares its SLO (the p95 latency it must meet) and how critical it is. The
request metrics put a histogram bucket boundary at every SLO, the ops dashboard draws
each route against its SLO, and load-test gates read the same numbers, so one edit here
moves them all. The manifest itself is data declared by the storefront (it knows every
route); `settings.PEAKSTORE_OWNERSHIP_MANIFEST` names it, as ROOT_URLCONF names the URLs.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, cached_property

from django.conf import settings
from django.utils.module_loading import import_string

ANY_NAME = "*"


class Criticality(StrEnum):
    CRITICAL = "critical"  # money path: a failure loses an order
    CORE = "core"  # browsing: a failure loses a visitor
    INTERNAL = "internal"  # probes, ops, admin, docs: nobody buys here


@dataclass(frozen=True)
class RouteOwnership:
    """A URL pattern by view name (`namespace:name`; `admin:*` covers a namespace)."""

    view_name: str
    owner: str
    slo_p95_ms: int
    criticality: Criticality
    description: str = ""


@dataclass(frozen=True)
class CacheNamespaceOwnership:
    namespace: str
    owner: str
    description: str = ""


@dataclass(frozen=True)
class DependencyOwnership:
    dependency: str
    owner: str
    criticality: Criticality
    description: str = ""


@dataclass(frozen=True)
class SignalOwnership:
    """A metric family (without the `_total`/`_bucket` suffixes the exposition adds)."""

    metric: str
    owner: str
    description: str = ""


@dataclass(frozen=True)
class ReleaseAuthority:
    """Who owns a release flag or kill switch, and who may stop it (degrade the feature)."""

    flag: str
    owner: str
    stop_authority: str  # the role that may stop it; it needs `releases.stop_releaseflag`
    description: str = ""


@dataclass(frozen=True)
class ExceptionOwnership:
    """A kind of reconciliation exception: who works it, and the runbook that says how."""

    kind: str
    owner: str
    runbook: str  # a path in the repository, docs/runbooks/<kind>.md
    description: str = ""


@dataclass(frozen=True)
class OwnershipManifest:
    routes: tuple[RouteOwnership, ...]
    cache_namespaces: tuple[CacheNamespaceOwnership, ...] = ()
    dependencies: tuple[DependencyOwnership, ...] = ()
    signals: tuple[SignalOwnership, ...] = field(default=())
    releases: tuple[ReleaseAuthority, ...] = ()
    exceptions: tuple[ExceptionOwnership, ...] = ()

    @cached_property
    def _routes_by_name(self) -> dict[str, RouteOwnership]:
        return {route.view_name: route for route in self.routes}

    def route(self, view_name: str) -> RouteOwnership | None:
        """Return the entry for a view name, exact or by its namespace's `ns:*` entry."""
        routes = self._routes_by_name
        if (entry := routes.get(view_name)) is not None:
            return entry
        namespace, _, _ = view_name.rpartition(":")
        return routes.get(f"{namespace}:{ANY_NAME}") if namespace else None

    def slo_seconds(self) -> tuple[float, ...]:
        """Every distinct route SLO, in seconds, ascending."""
        return tuple(sorted({route.slo_p95_ms / 1000 for route in self.routes}))

    def signal(self, metric: str) -> SignalOwnership | None:
        return next((entry for entry in self.signals if entry.metric == metric), None)

    def release(self, flag: str) -> ReleaseAuthority | None:
        return next((entry for entry in self.releases if entry.flag == flag), None)

    def exception(self, kind: str) -> ExceptionOwnership | None:
        return next((entry for entry in self.exceptions if entry.kind == kind), None)


@cache
def ownership_manifest() -> OwnershipManifest:
    """Return the manifest `settings.PEAKSTORE_OWNERSHIP_MANIFEST` names (loaded once)."""
    return import_string(settings.PEAKSTORE_OWNERSHIP_MANIFEST)
