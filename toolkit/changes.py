"""Tell higher layers, after commit, that an owner changed some of its records.

Lower layers cannot import the apps that derive data from them (catalog cannot import
search), so a write service publishes "these ids changed" on a topic it declares, and
the derived app subscribes a handler in its `AppConfig.ready()`. The owner declares its
topics beside the services that publish them and exports them in its interface; a
subscriber passes the topic object it imported, so it cannot name a topic nobody
publishes, and this module knows no topic of its own. Nothing is implicit: the write
service calls `publish` where it writes, every subscription is one line in an
`apps.py`, and the handler runs only once the transaction commits, never for a write
that rolls back. This is not Django signals: no model hooks, no handler runs inside the
writer's transaction, and `subscribers()` lists who listens to what.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import transaction

logger = logging.getLogger(__name__)

Handler = Callable[[frozenset[int]], None]


@dataclass(frozen=True)
class Topic:
    """A stream of "these ids changed", named `<owner>.<records>` by the app that owns them."""

    name: str
    ids: str  # what the published ids are, for whoever reads `subscribers()`


_topics: dict[str, Topic] = {}
_handlers: dict[Topic, list[Handler]] = defaultdict(list)
_muted: ContextVar[bool] = ContextVar("toolkit_changes_muted", default=False)


def topic_declare(name: str, *, ids: str) -> Topic:
    """Declare a topic the calling app publishes on; one name, one meaning."""
    topic = Topic(name=name, ids=ids)
    if _topics.setdefault(name, topic) != topic:
        raise ValueError(f"change topic {name!r} is already declared differently")
    return topic


def subscribe(topic: Topic, handler: Handler) -> None:
    """Call `handler(ids)` after each commit that published on `topic`. Call from ready()."""
    if handler not in _handlers[topic]:
        _handlers[topic].append(handler)


def subscribers() -> dict[str, tuple[Handler, ...]]:
    return {topic.name: tuple(handlers) for topic, handlers in _handlers.items()}


def publish(topic: Topic, ids: Iterable[int]) -> None:
    """Schedule delivery of `ids` to the topic's subscribers when the transaction commits.

    Outside a transaction (autocommit) delivery is immediate. A subscriber that fails is
    logged and does not stop the others: the write has already committed, and derived
    data can be rebuilt (e.g. `search_reindex`).
    """
    changed = frozenset(ids)
    if not changed or _muted.get() or not _handlers.get(topic):
        return
    transaction.on_commit(lambda: _deliver(topic, changed))


def _deliver(topic: Topic, ids: frozenset[int]) -> None:
    for handler in _handlers[topic]:
        try:
            handler(ids)
        except Exception:
            logger.exception("change handler %r failed on %s", handler, topic.name)


@contextmanager
def muted() -> Iterator[None]:
    """Publish nothing inside the block: for bulk loads that rebuild derived data after."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)
