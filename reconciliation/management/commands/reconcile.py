"""`python manage.py reconcile inventory|prices|payments|orders|search [--since ...] [--dry-run]`.

Compares the store with the routine's system of record, repairs what policy allows,
opens or updates an exception for the rest, and prints the run's counts. Exit 1 when
the run failed (the system of record did not answer) or was skipped (another run of
the routine is going).
"""

import json
from dataclasses import asdict
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from reconciliation.tasks import ROUTINE_NAMES, reconcile


def _since(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError("--since takes an ISO 8601 date and time, e.g. 2026-12-05T03:00Z")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = "Reconcile the store with a system of record; print the run's counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("routine", choices=ROUTINE_NAMES)
        parser.add_argument(
            "--since",
            help="payments and orders: only orders created since (ISO 8601); a partial run "
            "resolves nothing on its own",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="compare and count; repair and record nothing"
        )

    def handle(
        self, *args: object, routine: str, since: str | None, dry_run: bool, **options: object
    ) -> None:
        summary = reconcile(
            routine=routine, since=_since(since) if since else None, dry_run=dry_run
        )
        self.stdout.write(json.dumps(asdict(summary), indent=2))
        if summary.status != "finished":
            raise CommandError(f"{routine} run {summary.status}: {summary.note}")
