"""Tell higher layers, after commit, that an owner changed some of its records.

Lower layers cannot import the apps that derive data from them (catalog cannot import
search), so a write service publishes "these ids changed" on a named topic and the
derived app subscribes a handler in its `AppConfig.ready()`. Nothing is implicit: the
write service calls `publish` where it writes, every subscription is one line in an
`apps.py`, and the handler runs only once the transaction commits, never for a write
that rolls back. This is not Django signals: no model hooks, no handler runs inside the
writer's transaction, and `toolkit.changes.subscribers()` lists who listens to what.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

logger = logging.getLogger(__name__)

Handler = Callable[[frozenset[int]], None]

# The topics owners publish; a subscriber to an unknown topic is a typo, so it is refused.
TOPICS = frozenset(
    {
        "catalog.products",  # product ids whose content, slug, category or brand changed
        "pricing.prices",  # variant ids whose prices changed
        "inventory.stock",  # variant ids whose on-hand or allocated units changed
    }
)

_handlers: dict[str, list[Handler]] = defaultdict(list)
_muted: ContextVar[bool] = ContextVar("toolkit_changes_muted", default=False)


def subscribe(topic: str, handler: Handler) -> None:
    """Call `handler(ids)` after each commit that published on `topic`. Call from ready()."""
    if topic not in TOPICS:
        raise ValueError(f"unknown change topic {topic!r}")
    if handler not in _handlers[topic]:
        _handlers[topic].append(handler)


def subscribers() -> dict[str, tuple[Handler, ...]]:
    return {topic: tuple(handlers) for topic, handlers in _handlers.items()}


def publish(topic: str, ids: Iterable[int]) -> None:
    """Schedule delivery of `ids` to the topic's subscribers when the transaction commits.

    Outside a transaction (autocommit) delivery is immediate. A subscriber that fails is
    logged and does not stop the others: the write has already committed, and derived
    data can be rebuilt (e.g. `search_reindex`).
    """
    if topic not in TOPICS:
        raise ValueError(f"unknown change topic {topic!r}")
    changed = frozenset(ids)
    if not changed or _muted.get() or not _handlers.get(topic):
        return
    transaction.on_commit(lambda: _deliver(topic, changed))


def _deliver(topic: str, ids: frozenset[int]) -> None:
    for handler in _handlers[topic]:
        try:
            handler(ids)
        except Exception:
            logger.exception("change handler %r failed on %s", handler, topic)


@contextmanager
def muted() -> Iterator[None]:
    """Publish nothing inside the block: for bulk loads that rebuild derived data after."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)
