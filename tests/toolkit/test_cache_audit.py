"""The cache audit compares sampled entries with their owners' data: drift beyond a
namespace's tolerance fails it; unowned keys and keys without a TTL are reported."""

from dataclasses import replace
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from inventory.models import Stock
from pricing.models import Price
from toolkit.cache import owned, registry
from toolkit.cache.audit import cache_audit
from toolkit.cache.metrics import CacheEvent, cache_event_count


def audit_of(report, namespace):
    return next(audit for audit in report.namespaces if audit.namespace == namespace)


@pytest.fixture
def warm(client, product):
    """Caches filled the way visitors fill them."""
    for url in ("/", "/c/outdoor/", "/p/trail-runner/"):
        assert client.get(url).status_code == 200
    return product


def test_caches_filled_by_pages_agree_with_their_owners(warm, capsys):
    report = cache_audit(sample=100)

    assert report.passed
    assert [audit.namespace for audit in report.namespaces if audit.without_ttl] == []
    assert audit_of(report, "pricing.price").sampled >= 1
    assert audit_of(report, "catalog.product").sampled == 1
    assert audit_of(report, "inventory.availability").sampled >= 1
    call_command("cache_audit")
    assert "No drift beyond tolerance." in capsys.readouterr().out


def test_a_write_that_bypasses_the_owner_is_drift(warm):
    # given a price changed behind pricing's back (a hand-run SQL fix), never invalidated
    Price.objects.update(amount=Decimal("1.00"))
    anomalies_before = cache_event_count("pricing.price", CacheEvent.AUDIT_ANOMALY)

    # when the audit runs, then it finds the stale entry and fails
    report = cache_audit(sample=100)
    assert audit_of(report, "pricing.price").stale == [str(warm.variants.get().pk)]
    assert not report.passed
    assert cache_event_count("pricing.price", CacheEvent.AUDIT_ANOMALY) > anomalies_before
    with pytest.raises(CommandError, match="staler than tolerated"):
        call_command("cache_audit")


def test_drift_within_a_namespaces_tolerance_passes_until_it_is_exceeded(warm, monkeypatch):
    # given availability changed without a bump (as every order does)
    Stock.objects.update(on_hand=1)

    # then within its 5 s tolerance the audit accepts it
    report = cache_audit(sample=100)
    assert audit_of(report, "inventory.availability").drift_within_tolerance >= 1
    assert report.passed

    # and an entry older than the tolerance that still disagrees fails it
    real_now = owned._now
    monkeypatch.setattr("toolkit.cache.audit._now", lambda: real_now() + 6)
    assert audit_of(cache_audit(sample=100), "inventory.availability").stale


def test_an_entrys_age_is_taken_when_it_was_read_not_once_its_owner_answered(warm, monkeypatch):
    # given availability changed without a bump, so the entries disagree within tolerance
    Stock.objects.update(on_hand=1)
    clock = [owned._now()]
    monkeypatch.setattr("toolkit.cache.audit._now", lambda: clock[0])
    spec = registry.reader("inventory.availability").spec

    def slow_owner(entries):
        clock[0] += 6  # the owner's answer takes longer than the tolerance
        return spec.audit(entries)

    specs = tuple(
        replace(spec, audit=slow_owner) if other.namespace == spec.namespace else other
        for other in registry.specs()
    )
    monkeypatch.setattr(registry, "specs", lambda: specs)

    # when the audit compares them
    audit = audit_of(cache_audit(sample=100), "inventory.availability")

    # then entries read within their tolerance are drift within it, not stale
    assert audit.drift_within_tolerance >= 1
    assert audit.stale == []


def test_unowned_keys_and_keys_without_ttl_are_reported(warm, capsys):
    cache.set("rogue:prices", {"1": "9.99"}, timeout=None)

    report = cache_audit(sample=100)

    assert "rogue:prices" in report.unowned
    assert "rogue:prices" in report.unowned_without_ttl
    assert report.passed  # reported, not drift
    with pytest.raises(CommandError, match="unowned keys or keys without a TTL"):
        call_command("cache_audit", strict=True)


def test_declared_shared_state_is_owned_and_still_checked_for_a_ttl(warm, capsys):
    # given a breaker's state as the resilience layer writes it, and a release key
    # someone wrote without a TTL
    cache.set("integrations:breaker:reviews:failures", 2, timeout=60)
    cache.set("releases:generation", 7, timeout=None)

    report = cache_audit(sample=100)

    # then neither is unowned; the state without a TTL is reported under its owner
    assert not [key for key in report.unowned if key.startswith(("integrations:", "releases:"))]
    states = {state.prefix: state for state in report.states}
    assert states["integrations:breaker:"].keys >= 1
    assert states["integrations:breaker:"].without_ttl == []
    assert states["releases:"].without_ttl == ["releases:generation"]
    with pytest.raises(CommandError, match="unowned keys or keys without a TTL"):
        call_command("cache_audit", strict=True)
    assert "shared state releases: (releases)" in capsys.readouterr().out


def test_the_periodic_task_runs_the_same_audit(warm):
    from toolkit.tasks import cache_audit_task

    Price.objects.update(amount=Decimal("1.00"))

    assert cache_audit_task.delay().get() == 1
