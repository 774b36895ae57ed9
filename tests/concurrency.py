"""Run a function from many threads at once (django-oscar's `run_concurrently` pattern).

Each call runs in a worker thread with its own database connection, closed afterwards.
All calls wait on one start signal, so they hit the database together.
"""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection


def run_concurrently(fn: Callable[[int], Any], *, calls: int, threads: int = 24) -> list[Any]:
    """Return each call's result, or the exception it raised, in call order."""
    start = threading.Event()

    def call(index: int) -> Any:
        start.wait(timeout=30)
        try:
            return fn(index)
        except Exception as error:
            return error
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(call, index) for index in range(calls)]
        start.set()
        return [future.result(timeout=120) for future in futures]
