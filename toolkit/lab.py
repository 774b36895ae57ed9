"""The failure-mode lab: switches that select a naive code path a real team could ship.

Each mode's naive path lives beside the good one in the owning app, which asks
`mode_on("<mode>")` where the two part. The lab is off unless the stack was started with
`PEAKSTORE_LAB=1`, and production settings force it off whatever the environment says;
then `mode_on` answers False without any I/O, so the good path pays nothing for the lab.

With the lab enabled, the switches live in the database (`toolkit.models.LabSwitch`), so
every process of a stack (web workers, Celery workers, beat) follows a change without a
restart. A process re-reads them at most once per `REFRESH_SECONDS`; the process that
switches sees its own change at once.
"""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from toolkit.settings_cache import setting

# How stale another process's view of the switches may be, in seconds.
REFRESH_SECONDS = 1.0


@dataclass(frozen=True)
class LabMode:
    name: str
    owner: str  # the app whose code holds both paths
    naive: str  # what the naive path does, in one line
    signal: str  # what should catch it


MODES: dict[str, LabMode] = {
    mode.name: mode
    for mode in (
        LabMode(
            "n-plus-one",
            "catalog",
            "listing pages and the product API load each card's relations lazily",
            "queries per request, repeated statements on /ops/, the queries_per_request gate",
        ),
        LabMode(
            "cache-drift",
            "pricing",
            "a bulk price and stock import skips the owner's cache invalidation",
            "cache_audit findings, the audit gate, stale prices on pages",
        ),
        LabMode(
            "cold-release",
            "storefront",
            "a release retires every cache at once, with single flight off",
            "a recompute storm: queries/s and p95 up, hit ratio down",
        ),
        LabMode(
            "click-id-busting",
            "toolkit",  # the page cache's key (toolkit/cache/http.py)
            "page-cache keys include every query parameter",
            "hit ratio, p95, upstream calls per page",
        ),
        LabMode(
            "search-unbounded",
            "search",
            "rank every match, facets re-run the full match, OFFSET pagination",
            "search p95 against its SLO, statement time",
        ),
        LabMode(
            "promotions-naive",
            "pricing",
            "every active promotion evaluated against every line, no index, no bound",
            "pricing time per cart, the bound-hit metric, checkout p95",
        ),
        LabMode(
            "integrations-blocking",
            "integrations",
            "optional dependencies called in sequence, no timeouts, breakers or budget",
            "product page p95 during a partial outage, fan-out budget violations",
        ),
        LabMode(
            "oversell",
            "checkout",
            "stock checked then decremented without row locks, orders without idempotency",
            "audit_orders, the stock ledger, oversell and double-charge counters",
        ),
        LabMode(
            "monitoring-blind",
            "releases",
            "release gates and baseline comparison off: a slow release grows to 100%",
            "only the funnel notices, late",
        ),
    )
}


class LabDisabled(Exception):
    """The lab was asked to switch while the stack runs without it."""


class UnknownMode(ValueError):
    """No lab mode has this name."""


_lock = threading.Lock()
_seen: tuple[float, frozenset[str]] = (float("-inf"), frozenset())


def lab_enabled() -> bool:
    """Whether this stack was started with the lab (never under production settings)."""
    return bool(setting("PEAKSTORE_LAB", False))


def active_modes() -> frozenset[str]:
    """The modes switched on, as this process last read them (at most REFRESH_SECONDS old)."""
    global _seen
    if not lab_enabled():
        return frozenset()
    read_at, modes = _seen
    now = time.monotonic()
    if now - read_at < REFRESH_SECONDS:
        return modes
    from toolkit.models import LabSwitch

    with _lock:
        modes = frozenset(LabSwitch.objects.filter(on=True).values_list("mode", flat=True))
        _seen = (now, modes)
    return modes


def mode_on(name: str) -> bool:
    """Whether the naive path of mode `name` is selected; free while the lab is disabled."""
    if not lab_enabled():
        return False
    if name not in MODES:
        raise UnknownMode(name)
    return name in active_modes()


def state_token() -> str:
    """A short token naming the modes on ("" when none), for cache keys and banners."""
    return "+".join(sorted(active_modes()))


def switch(name: str, *, on: bool, actor: str) -> bool:
    """Turn mode `name` on or off and log the change; False if it already was so."""
    global _seen
    if not lab_enabled():
        raise LabDisabled(
            "the lab is off: start the stack with PEAKSTORE_LAB=1 (never in production)"
        )
    if name not in MODES:
        raise UnknownMode(name)
    from toolkit.models import LabChange, LabSwitch

    now = timezone.now()
    with transaction.atomic():
        row, _ = LabSwitch.objects.select_for_update().get_or_create(
            mode=name, defaults={"on": False, "changed_at": now, "changed_by": actor}
        )
        if row.on == on:
            changed = False
        else:
            row.on, row.changed_at, row.changed_by = on, now, actor
            row.save(update_fields=["on", "changed_at", "changed_by"])
            LabChange.objects.create(mode=name, on=on, at=now, actor=actor)
            changed = True
    _seen = (float("-inf"), frozenset())
    return changed


def reset(*, actor: str) -> list[str]:
    """Switch every mode off; the modes that were on."""
    were_on = sorted(active_modes_fresh())
    for name in were_on:
        switch(name, on=False, actor=actor)
    return were_on


def active_modes_fresh() -> frozenset[str]:
    """The modes switched on, read now (commands and /ops/ show this, not a memo)."""
    memo_forget()
    return active_modes()


def memo_forget() -> None:
    """Drop this process's memo of the switches: the next read goes to the database."""
    global _seen
    _seen = (float("-inf"), frozenset())


@dataclass(frozen=True)
class LabChangeRecord:
    mode: str
    on: bool
    at: str  # ISO 8601
    actor: str


def lab_changes(*, limit: int = 20) -> list[LabChangeRecord]:
    """The latest switch changes, newest first: the lab's decision log. One query (none
    while the lab is disabled)."""
    if not lab_enabled():
        return []
    from toolkit.models import LabChange

    return [
        LabChangeRecord(mode=row.mode, on=row.on, at=row.at.isoformat(), actor=row.actor)
        for row in LabChange.objects.all()[:limit]
    ]


class LabModeCollector:
    """`peakstore_lab_mode{mode}`: 1 for each mode on, 0 for each off, read at scrape time.

    A collector rather than a gauge each process sets: the switches live in the database
    (at most REFRESH_SECONDS old here), so every scrape says the stack's state, not the
    state the answering worker last acted on. No I/O while the lab is disabled.
    """

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "peakstore_lab_mode", "1 while the failure-mode lab's mode is on", labels=["mode"]
        )
        on = active_modes()
        for name in MODES:
            family.add_metric([name], 1.0 if name in on else 0.0)
        yield family
