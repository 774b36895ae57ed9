"""Count a request's SQL and find statements it ran more than once (an N+1's signature).

A fingerprint is the statement with its literals and parameter lists flattened, hashed:
`WHERE id = %s` for id 1 and for id 2 is one fingerprint, and so is `IN (%s, %s)` with
any number of parameters. The same fingerprint twice in one request is a duplicate.
"""

import hashlib
import re
from collections.abc import Callable
from typing import Any

_STRING_LITERALS = re.compile(r"'(?:[^']|'')*'")
_NUMBERS = re.compile(r"\b\d+(?:\.\d+)?\b")
_PLACEHOLDERS = re.compile(r"%s|%\(\w+\)s")
_PARAMETER_LISTS = re.compile(r"\((?:\s*\?\s*,)+\s*\?\s*\)")
_SPACE = re.compile(r"\s+")
# Transaction control repeats by design (one savepoint per atomic block): never a duplicate.
_TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


def sql_normalise(sql: str) -> str:
    """Return the statement's shape: literals and placeholders as `?`, lists as `(...)`."""
    shape = _STRING_LITERALS.sub("?", sql)
    shape = _PLACEHOLDERS.sub("?", shape)
    shape = _NUMBERS.sub("?", shape)
    shape = _PARAMETER_LISTS.sub("(...)", shape)
    return _SPACE.sub(" ", shape).strip()


def sql_fingerprint(sql: str) -> str:
    """Return a short stable hash of the statement's shape (a metric label value)."""
    return hashlib.blake2b(sql_normalise(sql).encode(), digest_size=6).hexdigest()


class QueryTally:
    """An execute wrapper (`connection.execute_wrapper(tally)`) counting one request's SQL.

    It adds no query and keeps raw SQL only until the request ends; fingerprints are
    computed once per distinct statement text, after the response, in `duplicates()`.
    One is made per request, hence a plain class with slots.
    """

    __slots__ = ("count", "statements")

    def __init__(self) -> None:
        self.count = 0
        self.statements: dict[str, int] = {}

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.count += 1
        self.statements[sql] = self.statements.get(sql, 0) + 1
        return execute(sql, params, many, context)

    def duplicates(self) -> dict[str, tuple[int, str]]:
        """Return {fingerprint: (executions, example SQL)} for shapes run more than once."""
        shapes: dict[str, tuple[int, str]] = {}
        for sql, executions in self.statements.items():
            if sql.lstrip().upper().startswith(_TRANSACTION_CONTROL):
                continue
            fingerprint = sql_fingerprint(sql)
            seen, example = shapes.get(fingerprint, (0, sql))
            shapes[fingerprint] = (seen + executions, example)
        return {key: value for key, value in shapes.items() if value[0] > 1}
