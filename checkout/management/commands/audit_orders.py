"""`python manage.py audit_orders [--since WHEN]`: exit non-zero when any checkout
invariant is broken."""

import re
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from checkout.audit import orders_audit

_AGO = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def since_parse(text: str) -> datetime:
    """Read `--since`: an ISO 8601 time (UTC without an offset) or an age such as 90m."""
    if ago := _AGO.fullmatch(text.strip()):
        return timezone.now() - timedelta(**{_UNITS[ago[2]]: int(ago[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(
            f"--since {text!r}: give an ISO 8601 time or an age such as 30m, 2h, 1d"
        ) from None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Check the stock ledger, allocations, captures, orders per cart and pending orders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            help="check only the payments of orders placed since then "
            "(ISO 8601 time, or an age: 30m, 2h, 1d)",
        )

    def handle(self, *args: object, since: str | None = None, **options: object) -> None:
        report = orders_audit(since=since_parse(since) if since else None)
        for name, count in report.checked.items():
            self.stdout.write(f"  checked {count:>7,} {name}")
        for finding in report.acknowledged:
            self.stdout.write(
                f"  KNOWN {finding.check}: {finding.subject}: {finding.detail} "
                "(an open exception owns it)"
            )
        for finding in report.findings:
            self.stdout.write(
                self.style.ERROR(f"  FAIL {finding.check}: {finding.subject}: {finding.detail}")
            )
        if not report.ok:
            raise CommandError(f"order audit found {len(report.findings)} violation(s)")
        self.stdout.write(self.style.SUCCESS("order audit clean"))
