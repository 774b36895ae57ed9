"""What one request did, counted without spans: cache hits and misses per namespace.

A warm page is one or two cache hits; a span for each would cost more than the hit
itself. The cache counts its events here instead (one context-variable read when no
request is being traced), and the request's root span carries the totals.
"""

from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class RequestTally:
    """Cache events of the request being traced, by namespace."""

    hits: Counter[str] = field(default_factory=Counter)
    misses: Counter[str] = field(default_factory=Counter)


_current: ContextVar[RequestTally | None] = ContextVar("peakstore_trace_tally", default=None)


def tally_start() -> RequestTally:
    """Start counting for the request or task about to run in this context."""
    tally = RequestTally()
    _current.set(tally)
    return tally


def tally_stop() -> RequestTally | None:
    """Stop counting; return what was counted (None if nothing was started)."""
    tally = _current.get()
    if tally is not None:
        _current.set(None)
    return tally


def tally_cache(namespace: str, *, hits: int = 0, misses: int = 0) -> None:
    """Count cache hits and misses against the current request, if one is traced."""
    tally = _current.get()
    if tally is None:
        return
    if hits:
        tally.hits[namespace] += hits
    if misses:
        tally.misses[namespace] += misses
