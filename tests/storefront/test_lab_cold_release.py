"""Lab mode `cold-release`: the post-deploy hook retires every cache and single flight is
off, so every request that misses recomputes; off, a release keeps the caches and one
request recomputes a missing entry while the others wait."""

from io import StringIO

from django.core.management import call_command

from tests.concurrency import run_concurrently
from tests.toolkit.caches import HOT
from tests.toolkit.test_cache_stampede import Recompute
from toolkit import lab as the_lab
from toolkit.cache.metrics import CacheEvent, cache_event_count

REQUESTS = 20


def deploy() -> str:
    out = StringIO()
    call_command("post_deploy", stdout=out)
    return out.getvalue()


def page_misses_after_a_release(client) -> int:
    client.get("/p/trail-runner/")  # warm
    misses = cache_event_count("storefront.page", CacheEvent.MISS)
    deploy()
    assert client.get("/p/trail-runner/").status_code == 200
    return cache_event_count("storefront.page", CacheEvent.MISS) - misses


def test_a_release_keeps_the_caches(client, product, lab):
    assert page_misses_after_a_release(client) == 0
    assert "caches kept" in deploy()


def test_cold_release_retires_every_cache_on_deploy(client, product, lab):
    lab("cold-release")

    assert page_misses_after_a_release(client) == 1


def test_cold_release_turns_single_flight_off(lab, monkeypatch):
    lab("cold-release")
    # The switch as this process read it, kept for the threads (they share the memo).
    assert the_lab.mode_on("cold-release")
    monkeypatch.setattr(the_lab, "REFRESH_SECONDS", 3600.0)
    compute = Recompute("value")

    results = run_concurrently(
        lambda _: HOT.get_or_compute("cold", compute), calls=REQUESTS, threads=REQUESTS
    )

    # every request that missed computed it itself: the recompute storm
    assert results == ["value"] * REQUESTS
    assert compute.calls > 1


def test_switching_cold_release_off_restores_single_flight(lab, monkeypatch):
    lab("cold-release")
    the_lab.switch("cold-release", on=False, actor="test")
    assert not the_lab.mode_on("cold-release")
    monkeypatch.setattr(the_lab, "REFRESH_SECONDS", 3600.0)
    compute = Recompute("value")

    results = run_concurrently(
        lambda _: HOT.get_or_compute("warm", compute), calls=REQUESTS, threads=REQUESTS
    )

    assert results == ["value"] * REQUESTS
    assert compute.calls == 1
