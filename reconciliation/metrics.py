"""Reconciliation's signals: drift found and repaired, the exception queue, operator actions."""

from prometheus_client import Counter, Gauge

differences = Counter(
    "peakstore_reconciliation_differences",
    "Differences with a system of record, by routine and classification.",
    ["routine", "classification"],
)
repairs = Counter(
    "peakstore_reconciliation_repairs",
    "Differences repaired within policy through the owner's services, by routine.",
    ["routine"],
)
runs = Counter(
    "peakstore_reconciliation_runs",
    "Reconciliation runs by routine and how they ended.",
    ["routine", "status"],
)
exceptions_open = Gauge(
    "peakstore_reconciliation_exceptions_open",
    "Open or acknowledged exceptions by kind and age band (under 1h, 1h-1d, over 1d).",
    ["kind", "age"],
    multiprocess_mode="mostrecent",
)
operator_actions = Counter(
    "peakstore_reconciliation_operator_actions",
    "Actions people took on exceptions, by action.",
    ["action"],
)
