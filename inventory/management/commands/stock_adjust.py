"""Correct a SKU's stock: `stock_adjust <sku> --set N --reason TEXT` (or `--add N`)."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.interface import variants_by_skus
from inventory.services import stock_adjust
from toolkit.errors import DomainError


class Command(BaseCommand):
    help = "Set or change on-hand stock of one SKU, through the ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sku")
        change = parser.add_mutually_exclusive_group(required=True)
        change.add_argument("--set", type=int, dest="set_to", metavar="N")
        change.add_argument("--add", type=int, metavar="N", help="negative to remove units")
        parser.add_argument("--reason", required=True)

    def handle(
        self, *args: object, sku: str, set_to: int | None, add: int | None, reason: str, **_: object
    ) -> None:
        variant = variants_by_skus(skus=[sku]).get(sku)
        if variant is None:
            raise CommandError(f"No product has SKU {sku!r}.")
        try:
            on_hand = stock_adjust(variant_id=variant.id, set_to=set_to, add=add, reason=reason)
        except DomainError as error:
            raise CommandError(error.message) from error
        self.stdout.write(self.style.SUCCESS(f"{sku}: {on_hand} on hand ({reason.strip()})."))
