"""The query parameters a view reads, declared once: they drive validation and cache keys.

A view declares its parameters in a `QuerySpec`. `QuerySpec.clean` keeps only the
declared ones, checks each value with its parser and returns them in a canonical order,
so two URLs that ask for the same thing (`?b=1&a=2` and `?a=2&b=1&utm_source=mail`) have
one canonical query string. The page cache keys on it, and the view sees only it: a
campaign's click id (`gclid`, unique per click) never creates a cache entry, and a page
rendered for one visitor never carries their click id in its pagination or sort links.

Undeclared parameters are dropped, whatever they are: an allow-list, not a list of known
tracking parameters. Campaign tags (`utm_*`), click ids (`gclid`, `gbraid`, `wbraid`,
`dclid`, `fbclid`, `msclkid`, `ttclid`, `twclid`, `yclid`, `li_fat_id`), mailer ids
(`mc_cid`, `mc_eid`), analytics linkers (`_ga`, `_gl`), `ref` and whatever an ad network
invents next are all dropped without anyone extending a list. To make a page read a
new parameter, declare it in that page's `QuerySpec`.

Parsers accept ASCII only where a number is expected (`str.isdigit` accepts "²", which
`int` refuses, and `int` accepts "١٢" and full-width digits), refuse NUL and control characters, and
bound lengths. A parser raises `ValueError`; the spec turns it into `InvalidParameter`
and either drops the value (forgiving parameters, for hand-edited links) or raises it for
the view to answer with its documented 4xx.

They are the store's one way to read input, wherever it arrives: the path converters
below (`PATH_CONVERTERS`, registered by the toolkit's app) read path segments with them,
API serializer fields and page form fields wrap them, and `json_depth_check` bounds a
JSON body's nesting before any parser recurses into it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from urllib.parse import urlencode

from django.http import QueryDict
from django.utils.dateparse import parse_datetime

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ASCII_DIGITS = re.compile(r"[0-9]{1,18}")
_SIGNED_ASCII_DIGITS = re.compile(r"-?[0-9]{1,18}")
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,140}")
# Path segments: a slug as long as the longest slug column (a product's), and the
# URL-safe alphabet of every token the store issues (cart and order tokens, order numbers).
PATH_SLUG_PATTERN = "[-a-zA-Z0-9_]{1,220}"
PATH_TOKEN_PATTERN = "[-a-zA-Z0-9_]{1,64}"
_URL_TOKEN = re.compile(PATH_TOKEN_PATTERN)
# A JSON body nests objects and arrays at most this deep; the deepest the API reads is 2.
MAX_JSON_DEPTH = 32


class InvalidParameter(ValueError):
    """A query parameter's value is not one the view accepts."""

    def __init__(self, name: str, message: str, *, status: int = 400) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.status = status


# Parsers: text in, a canonical text out (the cache key and the view see the same value).


def text(*, max_length: int) -> Callable[[str], str]:
    """Free text (a search query): whitespace folded, no control characters, bounded."""

    def parse(raw: str) -> str:
        return " ".join(_CONTROL.sub(" ", raw).split())[:max_length]

    return parse


def whole_number(*, minimum: int = 0, maximum: int = 10**9) -> Callable[[str], str]:
    """ASCII digits only (a leading `-` where `minimum` is negative), within the bounds."""
    digits = _SIGNED_ASCII_DIGITS if minimum < 0 else _ASCII_DIGITS

    def parse(raw: str) -> str:
        raw = raw.strip()
        if not digits.fullmatch(raw):
            raise ValueError("must be a whole number written with the digits 0-9")
        number = int(raw)
        if not minimum <= number <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return str(number)

    return parse


def slug(raw: str) -> str:
    """A slug: letters, digits, `-` and `_`, at most 140 characters."""
    if not _SLUG.fullmatch(raw):
        raise ValueError("must be a slug")
    return raw


def choice(values: Iterable[str]) -> Callable[[str], str]:
    """One of a fixed set of values."""
    allowed = frozenset(values)

    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(f"must be one of {', '.join(sorted(allowed))}")
        return raw

    return parse


def decimal(*, minimum: Decimal, maximum: Decimal) -> Callable[[str], str]:
    """A finite decimal number within [minimum, maximum] (ASCII digits and one point)."""

    def parse(raw: str) -> str:
        raw = raw.strip()
        if not raw.isascii() or len(raw) > 24:
            raise ValueError("must be a number")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ValueError("must be a number") from None
        if not value.is_finite() or not minimum <= value <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return str(value)

    return parse


def token(*, max_length: int) -> Callable[[str], str]:
    """An opaque token (a cursor): printable ASCII, bounded; its owner verifies it."""

    def parse(raw: str) -> str:
        if not raw or len(raw) > max_length or not raw.isascii() or _CONTROL.search(raw):
            raise ValueError("is not a valid token")
        return raw

    return parse


def iso_datetime(raw: str) -> str:
    """An ISO 8601 date and time (a timeline's start), canonical; month 13 is refused.

    Django's `parse_datetime` answers None for text that is no date but raises for one
    that is well formed and impossible ("2024-13-45T25:61"): both are a ValueError here.
    """
    try:
        moment = parse_datetime(raw) if len(raw) <= 40 and raw.isascii() else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError("must be an ISO 8601 date and time, e.g. 2026-01-31T12:00:00Z")
    return moment.isoformat()


def url_token(raw: str) -> str:
    """A token the store issued (cart, order access token, order number): URL-safe, bounded."""
    if not _URL_TOKEN.fullmatch(raw):
        raise ValueError("is not a valid token")
    return raw


def printable(*, max_length: int) -> Callable[[str], str]:
    """One line of text as typed (a name, an address line): no control characters, bounded.

    Strict where `text` is forgiving: a posted field with a NUL or a line break is a
    client's bug to hear about, not a search query to tidy up.
    """

    def parse(raw: str) -> str:
        if _CONTROL.search(raw):
            raise ValueError("must not contain control characters")
        if len(raw) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        return raw

    return parse


class JsonTooDeep(ValueError):
    """A JSON document nests objects and arrays deeper than its reader allows."""


# A string (skipped whole, so brackets inside it do not count) or a bracket.
_JSON_STRING_OR_BRACKET = re.compile(rb'["\[\]{}]')
_JSON_STRING_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def json_depth_check(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise JsonTooDeep if `raw` nests deeper than `max_depth`, without parsing it.

    `json` recurses once per level, so 5,000 nested brackets overflow its stack (a
    RecursionError, a 500) before it can say the body is bad. One linear scan answers
    first; a body with no more brackets than the limit cannot be too deep and is not
    scanned at all (every body the API expects).
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return
    depth, position = 0, 0
    while match := _JSON_STRING_OR_BRACKET.search(raw, position):
        char = match.group()
        position = match.end()
        if char == b'"':
            rest = _JSON_STRING_REST.match(raw, position)
            if rest is None:
                return  # an unterminated string: the parser refuses the body itself
            position = rest.end()
        elif char in b"[{":
            depth += 1
            if depth > max_depth:
                raise JsonTooDeep(f"nests deeper than {max_depth} levels")
        else:
            depth -= 1


# Path converters: a segment the parser refuses matches no route, so it is a 404 (and
# under /api/ the JSON `not_found`) before any view or query sees it.


class RowIdConverter:
    """A row id: 1 or more in at most 18 ASCII digits, so a huge number is a 404."""

    regex = "[0-9]{1,18}"
    _parse = staticmethod(whole_number(minimum=1, maximum=10**18 - 1))

    def to_python(self, value: str) -> int:
        return int(self._parse(value))

    def to_url(self, value: int) -> str:
        return str(value)


class SlugConverter:
    """A slug no longer than any slug column."""

    regex = PATH_SLUG_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class TokenConverter(SlugConverter):
    """A token the store issued (`url_token`)."""

    regex = PATH_TOKEN_PATTERN


# Registered under these names by ToolkitConfig.ready(), before any URLconf is read.
PATH_CONVERTERS: dict[str, type] = {
    "row_id": RowIdConverter,
    "bounded_slug": SlugConverter,
    "url_token": TokenConverter,
}


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    `many`: repeatable (`?brand=a&brand=b`), at most `max_values`, kept unique; with
    `ordered=False` its values are sorted, because their order does not change the page.
    `strict`: an invalid value raises InvalidParameter with `invalid_status` (400, or
    404 where a bad value names a page that does not exist); otherwise it is dropped.
    """

    name: str
    parse: Callable[[str], str]
    many: bool = False
    max_values: int = 20
    ordered: bool = False
    strict: bool = False
    invalid_status: int = 400
    max_length: int = 2048


@dataclass(frozen=True)
class CleanQuery:
    """The declared parameters of a request, parsed, in canonical order."""

    params: tuple[tuple[str, tuple[str, ...]], ...]

    def querydict(self) -> QueryDict:
        query = QueryDict(mutable=True)
        for name, values in self.params:
            query.setlist(name, list(values))
        query._mutable = False
        return query

    def urlencode(self) -> str:
        return urlencode([(name, value) for name, values in self.params for value in values])


_NOTHING = CleanQuery(params=())


class QuerySpec:
    """The query parameters one view reads."""

    def __init__(self, *params: Param) -> None:
        self.params = tuple(sorted(params, key=lambda param: param.name))
        self._markers = tuple(f"{param.name}=" for param in self.params)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(param.name for param in self.params)

    def clean_request(self, request: Any) -> CleanQuery:
        """`clean` the request's query, parsing it only if it may name a declared parameter.

        Campaign landings carry several tracking parameters and nothing the page reads:
        a substring test spares them the parse (an escaped name falls back to parsing).
        """
        raw = request.META.get("QUERY_STRING", "")
        if not raw or ("%" not in raw and not any(name in raw for name in self._markers)):
            return _NOTHING
        return self.clean(request.GET)

    def clean(self, query: QueryDict) -> CleanQuery:
        """Keep the declared parameters, parsed; raise InvalidParameter for a strict one."""
        if not self.params:
            return _NOTHING  # a view that reads none: its parameters need no parsing
        cleaned = []
        for param in self.params:
            raw_values = query.getlist(param.name) if param.name in query else []
            values = self._values(param, raw_values[: param.max_values if param.many else 1])
            if values:
                cleaned.append((param.name, values))
        return CleanQuery(params=tuple(cleaned))

    @staticmethod
    def _values(param: Param, raw_values: list[str]) -> tuple[str, ...]:
        values: list[str] = []
        for raw in raw_values:
            try:
                if len(raw) > param.max_length:
                    raise ValueError(f"is longer than {param.max_length} characters")
                value = param.parse(raw)
            except ValueError as error:
                if param.strict:
                    raise InvalidParameter(
                        param.name, str(error), status=param.invalid_status
                    ) from None
                continue
            if value != "":
                values.append(value)
        unique = tuple(dict.fromkeys(values))
        return unique if param.ordered else tuple(sorted(unique))


RAW_QUERY_STRING = "peakstore.raw_query_string"


def query_apply(request: Any, clean: CleanQuery) -> None:
    """Make the request show only its clean query: `GET`, `QUERY_STRING` and full paths.

    The query as sent stays in `request.META[RAW_QUERY_STRING]`, for a redirect that must
    pass a campaign's parameters on.
    """
    raw = request.META.get("QUERY_STRING", "")
    request.META.setdefault(RAW_QUERY_STRING, raw)
    if not clean.params:
        if raw:  # only tracking or undeclared parameters were sent: drop them all
            request.GET = _empty_query()
            request.META["QUERY_STRING"] = ""
        return
    request.GET = clean.querydict()
    request.META["QUERY_STRING"] = clean.urlencode()


@cache
def _empty_query() -> QueryDict:
    """One empty QueryDict for every campaign landing: it is immutable (changing it takes
    a `copy()`, as any request's `GET` does), and a new one cost a landing 8 µs."""
    return QueryDict()
