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

A subscriber may ask for its deliveries coalesced (`subscribe(..., coalesce_s=1.0)`):
the ids of every commit within that window reach it once, as one set, from a timer
thread of the process that committed. A search document refreshed for each order and
each price write was a task each, most of them rebuilding the same few documents: the
campaign spike ran 2,019 of them in five minutes. Coalesced ids wait in the process's
memory, so a process killed within the window loses them, as it loses an uncoalesced
delivery killed between the commit and the handler: derived data is rebuilt by the next
change, by reconciliation or by a reindex. A process that exits normally delivers them
first (`flush`).
"""

import atexit
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import connections, transaction

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


class Coalesced:
    """A handler whose deliveries within `window_s` of the first reach it as one set."""

    def __init__(self, handler: Handler, window_s: float) -> None:
        self.handler = handler
        self.window_s = window_s
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._timer: threading.Timer | None = None
        self._pid = os.getpid()

    def __call__(self, ids: frozenset[int]) -> None:
        with self._lock:
            self._forget_parents()
            self._pending |= ids
            if self._timer is None:
                self._timer = threading.Timer(self.window_s, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Deliver what is pending now (the timer's job; also at exit and in tests)."""
        with self._lock:
            self._forget_parents()
            on_timer = self._timer is threading.current_thread()
            if self._timer is not None and not on_timer:
                self._timer.cancel()
            ids, self._pending, self._timer = frozenset(self._pending), set(), None
        if ids:
            _call(self.handler, ids, f"ids coalesced over {self.window_s} s")
        if on_timer:
            # A handler that queried (a task run inline, CELERY_TASK_ALWAYS_EAGER) opened
            # this thread's own connections, and the thread ends here.
            connections.close_all()

    def _forget_parents(self) -> None:
        # In a forked child (a gunicorn or Celery worker) what is pending is the
        # parent's to deliver, and the parent's timer thread did not come along.
        if self._pid != os.getpid():
            self._pid, self._pending, self._timer = os.getpid(), set(), None

    def __repr__(self) -> str:
        return f"Coalesced({self.handler!r}, {self.window_s})"


# One per handler: a handler subscribed to two topics gets one delivery per window.
_coalesced: dict[Handler, Coalesced] = {}


def subscribe(topic: Topic, handler: Handler, *, coalesce_s: float = 0.0) -> None:
    """Call `handler(ids)` after each commit that published on `topic`. Call from ready().

    With `coalesce_s`, the ids committed within that many seconds of the first (on any
    topic the handler subscribed to so) reach it together, once: see the module docstring.
    """
    if any(_original(known) == handler for known in _handlers[topic]):
        return
    if coalesce_s > 0:
        coalesced = _coalesced.setdefault(handler, Coalesced(handler, coalesce_s))
        if coalesced.window_s != coalesce_s:
            raise ValueError(f"{handler!r} is already coalesced over {coalesced.window_s} s")
        _handlers[topic].append(coalesced)
    else:
        _handlers[topic].append(handler)


def subscribers() -> dict[str, tuple[Handler, ...]]:
    return {
        topic.name: tuple(_original(handler) for handler in handlers)
        for topic, handlers in _handlers.items()
    }


def flush() -> None:
    """Deliver every coalesced handler's pending ids now (at exit; tests)."""
    for coalesced in list(_coalesced.values()):
        coalesced.flush()


atexit.register(flush)


def _original(handler: Handler) -> Handler:
    return handler.handler if isinstance(handler, Coalesced) else handler


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
        _call(handler, ids, topic.name)


def _call(handler: Handler, ids: frozenset[int], about: object) -> None:
    try:
        handler(ids)
    except Exception:
        logger.exception("change handler %r failed on %s", handler, about)


@contextmanager
def muted() -> Iterator[None]:
    """Publish nothing inside the block: for bulk loads that rebuild derived data after."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)
