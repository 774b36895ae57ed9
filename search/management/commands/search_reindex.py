"""Rebuild the search read model: `python manage.py search_reindex [--batch-size N]`."""

import resource
import sys
import time

from django.core.management.base import BaseCommand, CommandParser

from search.services import ReindexProgress, search_reindex


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (ru_maxrss: KiB on Linux, B on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class Command(BaseCommand):
    help = "Rebuild every search document from catalog, pricing and inventory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args: object, batch_size: int, **_: object) -> None:
        started = time.perf_counter()

        def report(progress: ReindexProgress) -> None:
            elapsed = time.perf_counter() - started
            self.stdout.write(
                f"  {progress.done:>8,} products read, {progress.indexed:>8,} indexed"
                f"  {elapsed:6.1f}s",
                ending="\r",
            )
            self.stdout.flush()

        indexed = search_reindex(batch_size=max(1, batch_size), progress=report)
        elapsed = time.perf_counter() - started
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Indexed {indexed:,} products in {elapsed:.1f}s "
                f"(peak memory {peak_rss_mib():.0f} MiB)."
            )
        )
