"""What a deploy pipeline runs once a release is live: `python manage.py post_deploy`.

It leaves the caches alone. Every entry is keyed by its namespace's generation, which its
owner bumps when the data it shows changes (`toolkit/cache/owned.py`), so a release that
changes no data has nothing to retire; one that changes a cached value's shape renames its
namespace's keys in code. A release then costs no recompute storm.

The naive hook (lab mode `cold-release`) is the one many teams ship: "clear the cache
after every deploy, to be safe". It retires every entry of every namespace at once, under
full traffic, and (the same mode) with single flight off, every request that misses
recomputes: the storm the `release` lab shape shows.
"""

from django.core.management.base import BaseCommand

from toolkit.cache import registry
from toolkit.lab import mode_on


class Command(BaseCommand):
    help = "Run after a release is deployed (keeps the caches: their keys are versioned)."

    def handle(self, *args: object, **options: object) -> None:
        if mode_on("cold-release"):
            registry.retire_all()
            self.stdout.write("release: retired every cache (lab mode cold-release)")
            return
        self.stdout.write("release: caches kept (keys are versioned by their owners' writes)")
