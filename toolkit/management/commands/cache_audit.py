"""Audit the caches against their owners: `python manage.py cache_audit [--sample N]`.

Exit status: 0 clean; 1 when an entry disagrees with its system of record for longer
than its namespace tolerates; 2 when the cache cannot be read. Unowned keys and keys
without a TTL are reported (and counted as anomalies) but fail only with --strict.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from toolkit.cache.audit import audit_table, cache_audit
from toolkit.cache.store import CacheUnavailable


class Command(BaseCommand):
    help = "Sample every cache namespace and compare it with the system of record."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sample", type=int, default=settings.TOOLKIT_CACHE_AUDIT_SAMPLE)
        parser.add_argument(
            "--strict", action="store_true", help="also fail on unowned keys and keys without TTL"
        )

    def handle(self, *args: object, sample: int, strict: bool, **_: object) -> None:
        try:
            report = cache_audit(sample=sample)
        except CacheUnavailable as error:
            raise CommandError(f"cannot read the cache: {error}", returncode=2) from None
        self.stdout.write(audit_table(report))
        if not report.passed:
            raise CommandError(f"{report.stale_entries} entries are staler than tolerated")
        untidy = (
            len(report.unowned)
            + sum(len(audit.without_ttl) for audit in report.namespaces)
            + sum(len(state.without_ttl) for state in report.states)
        )
        if strict and untidy:
            raise CommandError(f"{untidy} unowned keys or keys without a TTL")
        self.stdout.write(self.style.SUCCESS("No drift beyond tolerance."))
