"""Drift: the simulated systems of record change behind the store's back, on demand.

`POST /_drift/<kind>` with `{"rate": 0.05}` changes that share of the records a kind
covers, chosen and changed by a random stream seeded from the simulator's seed, the
kind and how many times that kind drifted before: the same requests give the same
drift on every run. Every change is recorded (`GET /_drift`): the record is a test's
oracle, never something the store reads; reconciliation must find the differences by
comparing, as it would against a real upstream.

    erp-stock         on hand of a share of the catalog's SKUs changes (counted, damaged)
    pim-prices        list price of a share of the catalog's SKUs changes
    payment-captures  a share of the captures vanishes (missing), and as many captures
                      appear for references the store never sent (unknown)
    erp-orders        a share of the booked exports is forgotten (never acknowledged)

Stock and price drift need the catalog snapshot (`--catalog`): without it the simulator
knows no SKU to change.
"""

import random
import threading
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from integrations.simulator.catalog import SimCatalog
from integrations.simulator.erp import Erp
from integrations.simulator.payment import PaymentGateway
from integrations.simulator.pim import Pim

KINDS = ("erp-stock", "pim-prices", "payment-captures", "erp-orders")
# A large change is one a store's policy should not repair unseen: a count far off, a
# price doubled or halved. A small one is routine (a recount, a price tweak).
LARGE_SHARE = 0.3


class InvalidDrift(ValueError):
    """An unknown kind, a rate outside 0..1, or drift that needs a catalog it lacks."""


@dataclass(frozen=True)
class Injected:
    """One change the simulator made: what, to which record, from what to what."""

    kind: str
    change: str  # mismatch, missing, unknown
    key: str  # a SKU, or a payment or order reference
    before: str
    after: str


def drift_count(rate: float, population: int) -> int:
    """How many records a rate changes: the rounded share, at least one of a non-empty set."""
    if rate == 0 or population == 0:
        return 0
    return max(1, round(rate * population))


class DriftBook:
    """Drift injected so far, and the seeded streams that choose the next."""

    def __init__(
        self, *, seed: int, catalog: SimCatalog, erp: Erp, pim: Pim, payment: PaymentGateway
    ) -> None:
        self._seed = seed
        self._catalog = catalog
        self._erp, self._pim, self._payment = erp, pim, payment
        self._lock = threading.Lock()
        self._injected: list[Injected] = []
        self._rounds: dict[str, int] = {}

    def forget(self) -> None:
        with self._lock:
            self._injected.clear()
            self._rounds.clear()

    def record(self) -> dict[str, Any]:
        with self._lock:
            return {"injected": [asdict(entry) for entry in self._injected]}

    def inject(self, kind: str, rate: Any) -> list[Injected]:
        """Change `rate` of the kind's records; return what changed."""
        if kind not in KINDS:
            raise InvalidDrift(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise InvalidDrift("rate must be a number from 0 to 1")
        with self._lock:
            round_ = self._rounds.get(kind, 0)
            self._rounds[kind] = round_ + 1
            rng = random.Random(f"{self._seed}:drift:{kind}:{round_}")
            made = {
                "erp-stock": self._stock,
                "pim-prices": self._prices,
                "payment-captures": self._captures,
                "erp-orders": self._exports,
            }[kind](rng, float(rate))
            self._injected.extend(made)
            return made

    def _skus(self) -> list[str]:
        skus = sorted({sku for p in self._catalog.products.values() for sku in p.skus})
        if not skus:
            raise InvalidDrift("stock and price drift need the catalog snapshot (--catalog)")
        return skus

    def _stock(self, rng: random.Random, rate: float) -> list[Injected]:
        skus = self._skus()
        made = []
        for sku in rng.sample(skus, drift_count(rate, len(skus))):
            before = self._erp.on_hand(sku)
            if rng.random() < LARGE_SHARE:
                after = 0 if before >= 40 else before + rng.randint(60, 200)
            else:
                after = max(0, before + rng.choice((-3, -2, -1, 1, 2, 3)))
                after = after if after != before else before + 1
            self._erp.on_hand_set(sku, after)
            made.append(Injected("erp-stock", "mismatch", sku, str(before), str(after)))
        return made

    def _prices(self, rng: random.Random, rate: float) -> list[Injected]:
        skus = self._skus()
        made = []
        for sku in rng.sample(skus, drift_count(rate, len(skus))):
            before = self._pim.price(sku)
            if rng.random() < LARGE_SHARE:
                factor = rng.choice((Decimal("0.5"), Decimal("2")))
            else:
                factor = 1 + Decimal(rng.choice((-5, -3, -2, 2, 3, 5))) / 100
            after = (before * factor).quantize(Decimal("0.01"))
            self._pim.price_set(sku, after)
            made.append(Injected("pim-prices", "mismatch", sku, str(before), str(after)))
        return made

    def _captures(self, rng: random.Random, rate: float) -> list[Injected]:
        captures = self._payment.captures_list()
        count = drift_count(rate, len(captures))
        made = []
        for capture in rng.sample(captures, count):
            self._payment.capture_drop(capture.id)
            made.append(
                Injected(
                    "payment-captures",
                    "missing",
                    capture.reference,
                    str(capture.captured_amount),
                    "",
                )
            )
        for _ in range(count):
            reference = f"DRIFT-{rng.getrandbits(40):010X}"
            amount = Decimal(rng.randint(500, 40000)) / 100
            capture_id = f"cap_{rng.getrandbits(64):016x}"
            self._payment.capture_invent(capture_id=capture_id, reference=reference, amount=amount)
            made.append(Injected("payment-captures", "unknown", reference, "", str(amount)))
        return made

    def _exports(self, rng: random.Random, rate: float) -> list[Injected]:
        references = self._erp.booked_references()
        made = []
        for reference in rng.sample(references, drift_count(rate, len(references))):
            self._erp.export_drop(reference)
            made.append(Injected("erp-orders", "missing", reference, "booked", ""))
        return made
