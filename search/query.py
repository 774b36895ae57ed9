"""Turning what a visitor typed into a safe full-text query, and keyset cursors.

Pure functions: no database, so every odd input is unit-tested cheaply.

A query is reduced to at most `MAX_TERMS` words of letters and digits (any script);
everything else (quotes, FTS operators, SQL, punctuation) separates words and is never
passed to the database as syntax. Each word matches as a prefix, all words must match.
"""

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core import signing

from toolkit.errors import DomainError

MAX_QUERY_LENGTH = 200
MAX_TERMS = 8
MAX_TERM_LENGTH = 40
_WORD = re.compile(r"[^\W_]+")
_CURSOR_SALT = "search.cursor.v1"


class InvalidCursor(DomainError):
    code = "invalid_cursor"
    status = 400


def normalise_query(raw: str) -> str:
    """Collapse whitespace, drop NUL bytes, bound the length."""
    return " ".join(raw.replace("\x00", "").split())[:MAX_QUERY_LENGTH]


def query_terms(query: str) -> tuple[str, ...]:
    """The words a query searches for, lower-cased, de-duplicated, bounded."""
    words = (word[:MAX_TERM_LENGTH] for word in _WORD.findall(query.casefold()))
    return tuple(dict.fromkeys(words))[:MAX_TERMS]


def postgres_tsquery(terms: Sequence[str]) -> str:
    """`'word':* & ...` for to_tsquery: every term a quoted prefix, all required."""
    return " & ".join(f"'{term}':*" for term in terms)


def fts5_query(terms: Sequence[str]) -> str:
    """`"word"* "word"*` for FTS5 MATCH: every term a quoted prefix, all required."""
    return " ".join(f'"{term}"*' for term in terms)


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: its last row's sort key, for one search only."""

    fingerprint: str
    key: tuple


def fingerprint(*parts: object) -> str:
    """A short digest of what was searched, so a cursor cannot be replayed elsewhere."""
    raw = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def _encode_value(value: object) -> object:
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    return value


def _decode_value(value: object) -> object:
    if isinstance(value, dict) and set(value) == {"d"} and isinstance(value["d"], str):
        return Decimal(value["d"])
    if isinstance(value, dict) and set(value) == {"t"} and isinstance(value["t"], str):
        return datetime.fromisoformat(value["t"])
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a sort key value")
    return value


def cursor_encode(cursor: Cursor) -> str:
    payload = {"f": cursor.fingerprint, "k": [_encode_value(v) for v in cursor.key]}
    return signing.dumps(payload, salt=_CURSOR_SALT, compress=True)


def cursor_decode(token: str, *, expected_fingerprint: str, key_length: int) -> Cursor:
    """Read a cursor this server issued for this very search, or raise InvalidCursor."""
    try:
        payload = signing.loads(token[:500], salt=_CURSOR_SALT)
        key = tuple(_decode_value(value) for value in payload["k"])
        found = payload["f"]
    except (signing.BadSignature, KeyError, TypeError, ValueError, InvalidOperation):
        raise InvalidCursor("The cursor is not valid; start from the first page.") from None
    if found != expected_fingerprint or len(key) != key_length:
        raise InvalidCursor("The cursor belongs to another search; start from the first page.")
    return Cursor(fingerprint=found, key=key)
