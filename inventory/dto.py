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
