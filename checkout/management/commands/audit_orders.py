"""`python manage.py audit_orders`: exit non-zero when any checkout invariant is broken."""

from django.core.management.base import BaseCommand, CommandError

from checkout.audit import orders_audit


class Command(BaseCommand):
    help = "Check the stock ledger, allocations, captures, orders per cart and pending orders."

    def handle(self, *args: object, **options: object) -> None:
        report = orders_audit()
        for name, count in report.checked.items():
            self.stdout.write(f"  checked {count:>7,} {name}")
        for finding in report.findings:
            self.stdout.write(
                self.style.ERROR(f"  FAIL {finding.check}: {finding.subject}: {finding.detail}")
            )
        if not report.ok:
            raise CommandError(f"order audit found {len(report.findings)} violation(s)")
        self.stdout.write(self.style.SUCCESS("order audit clean"))
