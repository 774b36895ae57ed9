"""`python manage.py reconcile_verify`: reconcile everything, then check the simulator's
drift record was found in full. The load scenario `reconcile-drift` ends with it.

The drift record (`GET /_drift`) is the oracle, read here and only here: each injected
difference must now either agree (a repair within policy) or have a live exception for
its entity. Exit 1 when any was missed. Without drift injected it does nothing.
"""

import json
import time

import httpx
from django.core.management.base import BaseCommand, CommandError

from catalog.interface import variants_by_skus
from integrations.interface import drift_record, erp_orders_booked
from inventory.interface import stock_levels
from pricing.interface import prices_on_list
from reconciliation.interface import ROUTINE_NAMES, exceptions_live, reconcile

# The ERP exports sent again are delivered by the stack's worker: wait for them this long.
RESEND_WAIT_S = 30.0


class Command(BaseCommand):
    help = "Reconcile every routine, then check each injected drift was repaired or opened."

    def handle(self, *args: object, **options: object) -> None:
        try:
            injected = drift_record()["injected"]
        except httpx.HTTPError as unreachable:
            raise CommandError(f"no simulator answers: {unreachable!r}") from None
        if not injected:
            self.stdout.write("No drift injected: nothing to verify.")
            return
        repaired = 0
        for routine in ROUTINE_NAMES:
            run = reconcile(routine=routine)
            repaired += run.repaired
            self.stdout.write(
                f"reconcile {routine}: {run.status}, {run.compared} compared, "
                f"{run.differences} different, {run.repaired} repaired, "
                f"{run.exceptions_opened} opened, {run.auto_resolved} auto-resolved"
            )
        live = {(e.kind, e.entity) for e in exceptions_live(limit=1_000_000)}
        missed = [d for d in injected if not self._found(d, live)]
        found = len(injected) - len(missed)
        self.stdout.write(
            f"drift found: {found}/{len(injected)} ({found / len(injected):.0%}); "
            f"{len(live)} live exceptions, one per fingerprint"
        )
        for drift in missed[:20]:
            self.stdout.write(f"  missed: {drift}")
        figures = {
            "drift_injected": len(injected),
            "drift_found": found,
            "repaired": repaired,
            "exceptions_open": len(live),
        }
        # The load runner reads this line into the drift gates (devstack/audit.py).
        self.stdout.write(f"figures: {json.dumps(figures)}")
        if missed:
            raise CommandError(f"{len(missed)} injected differences were not found")

    def _found(self, drift: dict, live: set[tuple[str, str]]) -> bool:
        kind, key, after = drift["kind"], drift["key"], drift["after"]
        if kind == "payment-captures":
            if drift["change"] == "missing":
                return ("payment.missing_capture", f"order:{key}") in live
            return ("payment.unknown_capture", f"capture:{key}") in live
        if kind == "erp-orders":
            return ("order.export_missing", f"order:{key}") in live or self._booked_soon(key)
        if any(kind_ in live for kind_ in _sku_kinds(kind, key)):
            return True
        variant = variants_by_skus(skus=[key]).get(key)
        if variant is None:
            return False
        if kind == "erp-stock":
            level = stock_levels(variant_ids=[variant.id]).get(variant.id)
            return (level.on_hand if level else 0) == int(after)
        prices = prices_on_list(price_list_code="base", variant_ids=[variant.id])
        return str(prices.get(variant.id)) == after

    def _booked_soon(self, reference: str) -> bool:
        deadline = time.monotonic() + RESEND_WAIT_S
        while reference not in erp_orders_booked(references=[reference]):
            if time.monotonic() > deadline:
                return False
            time.sleep(1)
        return True


def _sku_kinds(kind: str, sku: str) -> list[tuple[str, str]]:
    prefix = "stock" if kind == "erp-stock" else "price"
    return [(f"{prefix}.mismatch", f"sku:{sku}"), (f"{prefix}.missing", f"sku:{sku}")]
