"""Pages of plain records, so selectors can hand a page to any layer without the ORM."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from toolkit.errors import DomainError
from toolkit.query import whole_number

T = TypeVar("T")
# Past any real listing; a larger number is refused like a page past the end.
MAX_PAGE_NUMBER = 1_000_000
_PAGE_NUMBER = whole_number(minimum=0, maximum=MAX_PAGE_NUMBER)


class InvalidPage(DomainError):
    code = "invalid_page"
    status = 404


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    number: int
    per_page: int
    count: int

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def parse_page_number(raw: str | int | None) -> int:
    """Turn a user-supplied page number into an int >= 1, or raise InvalidPage.

    ASCII digits only (toolkit.query.whole_number): `int` would take "١٢" and " 1_0 ".
    """
    if raw is None or raw == "":
        return 1
    try:
        number = int(_PAGE_NUMBER(str(raw)))
    except ValueError as error:
        raise InvalidPage(f"Page {error}.", page=str(raw)[:20]) from None
    if number < 1:
        raise InvalidPage("Page must be 1 or more.", page=number)
    return number


def page_bounds(*, number: int, per_page: int, count: int) -> slice:
    """Slice for page `number`; page 1 of an empty list is valid, past the end is not."""
    if number > 1 and (number - 1) * per_page >= count:
        raise InvalidPage("That page does not exist.", page=number)
    start = (number - 1) * per_page
    return slice(start, start + per_page)


def page_of(items: Sequence[T], *, number: int, per_page: int, count: int) -> Page[T]:
    return Page(items=tuple(items), number=number, per_page=per_page, count=count)
