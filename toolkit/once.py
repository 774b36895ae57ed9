"""Work done once: `created_once`, a factory run at most once per process under threads;
`one_at_a_time`, a block that one process of the whole store runs at a time."""

import functools
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TypeVar

from django.utils import timezone

T = TypeVar("T")


def created_once(factory: Callable[[], T]) -> Callable[[], T]:
    """Memoise `factory`, running it once even when threads race for the first call.

    functools.cache memoises but lets two threads run the factory together. A factory
    that registers Prometheus metrics (or connects signal handlers) must not run twice:
    the second registration raises DuplicateTimeseries in whichever request lost.
    """
    lock = threading.Lock()
    made: list[T] = []

    @functools.wraps(factory)
    def get() -> T:
        if not made:
            with lock:
                if not made:
                    made.append(factory())
        return made[0]

    return get


@contextmanager
def one_at_a_time(name: str, *, ttl: timedelta) -> Iterator[bool]:
    """Run the block as the one holder of the lease `name`; yield False if another is.

    For periodic work that must never overlap itself (reconciliation, sweeps), whichever
    worker beat's tick lands on. The lease is a database row, so it holds on both profiles
    and with the cache server down; the holder frees it when the block ends, and one that
    died frees it after `ttl`, which must exceed the longest run (the task's hard time
    limit).
    """
    from toolkit.models import Lease  # not at import: metric modules import this early

    now = timezone.now()
    holder = uuid.uuid4().hex
    Lease.objects.get_or_create(name=name, defaults={"held_until": now})
    taken = Lease.objects.filter(name=name, held_until__lte=now).update(
        holder=holder, held_until=now + ttl
    )
    try:
        yield bool(taken)
    finally:
        if taken:
            Lease.objects.filter(name=name, holder=holder).update(held_until=timezone.now())
