"""Plain records reconciliation hands to the web layers and its own routines."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One difference no policy repaired: it becomes (or updates) an exception."""

    kind: str  # e.g. "stock.mismatch": the manifest names its owner and runbook
    entity: str  # e.g. "sku:SKU-00012", "order:P3X9..."
    classification: str  # missing, mismatch, stale, unknown
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSummary:
    id: int | None  # None when the run was skipped before it was recorded
    routine: str
    status: str
    dry_run: bool
    compared: int
    differences: int
    repaired: int
    exceptions_opened: int
    exceptions_seen_again: int
    auto_resolved: int
    by_classification: dict[str, int]
    note: str = ""


@dataclass(frozen=True)
class ExceptionView:
    id: int
    kind: str
    entity: str
    state: str
    owner: str
    runbook: str
    evidence: dict[str, Any]
    reason: str
    proposed_change: str
    first_seen: datetime
    last_seen: datetime
    seen_count: int


@dataclass(frozen=True)
class ExceptionActionView:
    exception_id: int
    action: str
    actor: str
    note: str
    at: datetime
