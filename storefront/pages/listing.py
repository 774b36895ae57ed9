"""Reading listing parameters (page, sort, brands, query) and building page links.

Prices and stock for the cards come from `storefront.offers`.
"""

import re
from dataclasses import dataclass

from django.http import Http404, HttpRequest

from catalog.interface import PRODUCT_SORTS, ProductSort
from search.interface import MAX_QUERY_LENGTH
from toolkit.pagination import InvalidPage, Page, parse_page_number
from toolkit.query import Param, QuerySpec, choice, slug, whole_number

MAX_BRAND_FILTERS = 20
MAX_PAGE_NUMBER = 1_000_000
_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,140}$")

# A bad page number names a page that does not exist: 404, as for a page past the end.
PAGE_PARAM = Param(
    "page", whole_number(minimum=1, maximum=MAX_PAGE_NUMBER), strict=True, invalid_status=404
)
# What a category listing reads: unknown sorts and malformed brands are dropped, not
# refused, so old or hand-edited links keep working.
LISTING_QUERY = QuerySpec(
    PAGE_PARAM,
    Param("brand", slug, many=True, max_values=MAX_BRAND_FILTERS),
    Param("sort", choice(PRODUCT_SORTS)),
)


@dataclass(frozen=True)
class PageLinks:
    number: int
    num_pages: int
    previous_url: str | None
    next_url: str | None


def requested_page(request: HttpRequest) -> int:
    """Read `?page=`; anything but a whole number from 1 is a 404, as for a missing page."""
    try:
        return parse_page_number(request.GET.get("page"))
    except InvalidPage as error:
        raise Http404(error.message) from None


def requested_sort(request: HttpRequest) -> ProductSort:
    """Read `?sort=`; an unknown value falls back to "popular".

    Falling back instead of answering 400 keeps old or hand-typed links working, and the
    canonical link drops `sort`, so search engines never index the variants.
    """
    sort = request.GET.get("sort", "")
    return sort if sort in PRODUCT_SORTS else "popular"  # type: ignore[return-value]  # `in` does not narrow


def requested_brands(request: HttpRequest) -> tuple[str, ...]:
    """Read repeatable `?brand=`; values that cannot be slugs are dropped, not queried."""
    slugs = [slug for slug in request.GET.getlist("brand") if _SLUG.match(slug)]
    return tuple(dict.fromkeys(slugs))[:MAX_BRAND_FILTERS]


def requested_query(request: HttpRequest) -> str:
    """Read `?q=` as search will see it: no NUL bytes (PostgreSQL refuses them), bounded."""
    return " ".join(request.GET.get("q", "").replace("\x00", "").split())[:MAX_QUERY_LENGTH]


def page_links(request: HttpRequest, page: Page) -> PageLinks:
    """Previous and next links that keep the request's other parameters."""

    def url_for(number: int) -> str:
        params = request.GET.copy()
        params.pop("page", None)
        if number > 1:
            params["page"] = str(number)
        return f"{request.path}?{params.urlencode()}" if params else request.path

    return PageLinks(
        number=page.number,
        num_pages=page.num_pages,
        previous_url=url_for(page.number - 1) if page.has_previous else None,
        next_url=url_for(page.number + 1) if page.has_next else None,
    )


def listing_page(number: int) -> str:
    """The canonical query suffix for a listing page: page 1 is the bare path."""
    return f"?page={number}" if number > 1 else ""
