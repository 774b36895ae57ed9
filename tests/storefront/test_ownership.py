"""Every route, and every metric the store exposes, has an owner in the manifest."""

from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

from integrations.breakers import SPECS
from storefront.ownership import MANIFEST
from toolkit.manifest import Criticality, ownership_manifest
from toolkit.metrics import metrics_collect


def _view_names(patterns, namespace=()):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = (*namespace, pattern.namespace) if pattern.namespace else namespace
            yield from _view_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            # As ResolverMatch names it, near enough: unnamed patterns only match `ns:*`.
            yield ":".join((*namespace, pattern.name or "<unnamed>"))


def test_every_url_pattern_has_an_owner_and_an_slo():
    view_names = set(_view_names(get_resolver().url_patterns))

    missing = sorted(name for name in view_names if MANIFEST.route(name) is None)

    assert missing == [], f"add these routes to storefront/ownership.py: {missing}"
    assert {"pages:product", "api:order-list", "ops:metrics"} <= view_names


def test_routes_have_sane_slos_and_no_duplicates():
    names = [route.view_name for route in MANIFEST.routes]

    assert len(names) == len(set(names))
    assert all(0 < route.slo_p95_ms <= 5000 for route in MANIFEST.routes)
    assert MANIFEST.route("pages:checkout").criticality is Criticality.CRITICAL


def test_a_namespace_entry_covers_its_routes():
    assert MANIFEST.route("admin:index") is MANIFEST.route("admin:*")
    assert MANIFEST.route("pages:nowhere") is None


def test_every_dependency_the_integrations_call_has_a_declared_criticality():
    declared = {entry.dependency for entry in MANIFEST.dependencies}

    missing = sorted(set(SPECS) - declared)

    assert missing == [], f"add these dependencies to storefront/ownership.py: {missing}"
    assert MANIFEST.route("pages:product") is not None


def test_settings_name_the_manifest():
    assert ownership_manifest() is MANIFEST


def test_every_exposed_peakstore_metric_has_an_owner(client, db):
    client.get("/healthz")  # at least one request, so the request metrics exist

    exposed = {family.name for family in metrics_collect() if family.name.startswith("peakstore_")}

    missing = sorted(name for name in exposed if MANIFEST.signal(name) is None)
    assert missing == [], f"add these signals to storefront/ownership.py: {missing}"
    assert "peakstore_http_request_duration_seconds" in exposed


def test_the_ownership_command_prints_routes_with_their_slo(capsys):
    call_command("ownership")

    output = capsys.readouterr().out
    assert "pages:product" in output
    assert "200 ms" in output
    assert "peakstore_checkout_funnel" in output
