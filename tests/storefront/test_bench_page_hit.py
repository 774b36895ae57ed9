"""bench_page_hit counts the cache calls of a warm hit and leaves the caches as it found them."""

from django.core.cache import caches
from django.core.management import call_command
from django.test import Client

from storefront.management.commands.bench_page_hit import cache_calls_timed


def test_a_warm_hit_is_counted_in_cache_calls_and_the_caches_are_restored(product):
    client = Client()
    client.get("/c/outdoor/")
    method = caches["toolkit"].get

    with cache_calls_timed() as tally:
        client.get("/c/outdoor/")

    # the epoch and the entry, read together while the epoch has not moved
    assert tally.calls == 1
    assert tally.seconds > 0
    assert caches["toolkit"].get == method


def test_the_command_prints_a_line_per_page(product, capsys):
    call_command("bench_page_hit", requests=5, batches=1)

    out = capsys.readouterr().out
    assert "/c/outdoor/" in out
    assert "/robots.txt" in out
