"""`created_once`: a zero-argument factory run at most once per process, under threads."""

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

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
