"""Stop database queries that run past a deadline, on either database.

PostgreSQL: `SET LOCAL statement_timeout` inside a savepoint, so the server cancels the
statement (four statements of overhead: savepoint, set, reset, release). SQLite: a
progress handler that interrupts the statement once the deadline has passed (no extra
statement). Either way an overrunning query raises `QueryTimedOut`.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction


class QueryTimedOut(Exception):
    pass


@contextmanager
def query_deadline(seconds: float) -> Iterator[None]:
    """Run the block's queries under a deadline `seconds` from now."""
    if seconds <= 0:
        raise QueryTimedOut("no time left")
    try:
        if connection.vendor == "postgresql":
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}")
                yield
                # SET LOCAL outlives a released savepoint: undo it for the outer transaction.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
        elif connection.vendor == "sqlite":
            connection.ensure_connection()
            deadline = time.monotonic() + seconds
            raw = connection.connection
            raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 1_000)
            try:
                yield
            finally:
                raw.set_progress_handler(None, 0)
        else:
            yield
    except DatabaseError as error:
        if _is_timeout(error):
            raise QueryTimedOut(str(error)) from error
        raise


def _is_timeout(error: DatabaseError) -> bool:
    message = str(error).lower()
    return "statement timeout" in message or "interrupted" in message
