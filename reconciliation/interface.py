"""Reconciliation's public interface: runs, the exception queue and its workflow."""

from reconciliation.dto import ExceptionActionView, ExceptionView, Finding, RunSummary
from reconciliation.selectors import (
    exception_actions_recent,
    exception_counts_by_kind_and_age,
    exceptions_live,
    exceptions_overview,
    exceptions_with_proposals,
    runs_recent,
)
from reconciliation.services import (
    ACTIONS,
    ExceptionNotFound,
    InvalidTransition,
    ReasonRequired,
    UnknownAction,
    exception_act,
)
from reconciliation.tasks import ROUTINE_NAMES, reconcile

__all__ = [
    "ACTIONS",
    "ROUTINE_NAMES",
    "ExceptionActionView",
    "ExceptionNotFound",
    "ExceptionView",
    "Finding",
    "InvalidTransition",
    "ReasonRequired",
    "RunSummary",
    "UnknownAction",
    "exception_act",
    "exception_actions_recent",
    "exception_counts_by_kind_and_age",
    "exceptions_live",
    "exceptions_overview",
    "exceptions_with_proposals",
    "reconcile",
    "runs_recent",
]
