from dataclasses import dataclass


@dataclass(frozen=True)
class StockReceipt:
    variant_id: int
    quantity: int


@dataclass(frozen=True)
class StockLevel:
    variant_id: int
    on_hand: int
    allocated: int

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated


@dataclass(frozen=True)
class StockDiscrepancy:
    """A stock row that its ledger or its constraints disagree with."""

    variant_id: int
    on_hand: int
    allocated: int
    ledger_on_hand: int
    ledger_allocated: int
