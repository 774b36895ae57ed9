"""bench_page_hit counts the cache calls of a warm hit and leaves the caches as it found them."""

from django.core.cache import caches
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
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
    # The command serves through a bare WSGIHandler, whose request signals close the
    # database connection: inside a test's transaction that would end the test's data
    # (Django's test client disconnects them the same way).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        call_command("bench_page_hit", requests=5, batches=1)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)

    out = capsys.readouterr().out
    assert "/c/outdoor/" in out
    assert "/robots.txt" in out
