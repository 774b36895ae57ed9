"""Public catalog pages: home, category listing, product detail and search results.

They read no cookie and no session, so the same URL renders the same page for everyone,
and each declares the query parameters it reads: the page cache keys on those alone.
"""

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from catalog.interface import (
    CategoryRef,
    brand_facets_for_category,
    category_by_slug,
    category_tree,
    product_cards_for_category,
    product_cards_popular,
    product_detail_by_slug,
    slug_redirect_target,
)
from integrations.interface import (
    FanOutBudget,
    fan_out_start,
    recommendations_for_product,
    reviews_for_product,
)
from releases.interface import flag_enabled
from search.interface import InvalidCursor, search_products
from storefront.caches import SEARCH_PAGES
from storefront.offers import card_offers, variant_offers
from storefront.page_cache import cached_page
from storefront.pages.fragments import product_grid
from storefront.pages.listing import (
    LISTING_QUERY,
    listing_page,
    page_links,
    requested_brands,
    requested_page,
    requested_query,
    requested_sort,
)
from storefront.pages.search_facets import search_facet_groups
from storefront.pages.search_params import SEARCH_QUERY, requested_search
from storefront.pages.seo import product_json_ld
from storefront.pages.shell import page_meta, render_page, top_level_categories
from storefront.releases import RECOMMENDATIONS_V2, SEARCH_FACETS, recommendations_rank_v2
from toolkit.pagination import InvalidPage
from toolkit.query import RAW_QUERY_STRING, QuerySpec

# The product page may wait this long for its optional widgets, in parallel with its own
# queries; a widget not back by then is left out. The clients' own timeouts are shorter.
PRODUCT_PAGE = FanOutBudget(
    page="product", dependencies=frozenset({"recommendations", "reviews"}), budget_s=0.3
)


@require_safe
@cached_page(QuerySpec())
def home(request: HttpRequest) -> HttpResponse:
    """Show the most popular products and the top-level categories. Five queries."""
    tree = category_tree()
    offers = card_offers(product_cards_popular(limit=settings.CATALOG_PAGE_SIZE))
    meta = page_meta(
        request,
        title=f"{settings.STORE_NAME}: outdoor, sports and everyday gear",
        description=(
            f"Shop {settings.STORE_NAME} for outdoor, sports and everyday gear: "
            "popular products, fast shipping and free standard delivery over 50."
        ),
    )
    return render_page(
        request,
        "storefront/home.html",
        meta=meta,
        tree=tree,
        categories=top_level_categories(tree),
        offers=offers,
    )


@require_safe
@cached_page(LISTING_QUERY)
def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """List one page of a category subtree, filtered by brand and sorted. Eight queries."""
    category = category_by_slug(slug=slug)
    if category is None:
        return _moved_or_404(request, entity="category", slug=slug, route="pages:category")
    number = requested_page(request)
    brands = requested_brands(request)
    sort = requested_sort(request)
    try:
        page = product_cards_for_category(
            category=category,
            brand_slugs=brands,
            sort=sort,
            page=number,
            per_page=settings.CATALOG_PAGE_SIZE,
        )
    except InvalidPage as error:
        raise Http404(error.message) from None
    tree = category_tree()
    breadcrumbs = _ancestors(category, tree)
    meta = page_meta(
        request,
        title=category.name if number == 1 else f"{category.name}, page {number}",
        description=(
            f"Shop {page.count} products in {category.name} at {settings.STORE_NAME}. "
            "Compare brands and prices, see what is in stock and order online."
        ),
        # Sort and brand filters show the same products in another order or subset;
        # only the page number names distinct content.
        canonical_path=request.path + listing_page(number),
    )
    return render_page(
        request,
        "storefront/category.html",
        meta=meta,
        tree=tree,
        category=category,
        breadcrumbs=breadcrumbs,
        active_root_id=breadcrumbs[0].id,
        subcategories=tuple(c for c in tree if c.parent_id == category.id),
        facets=brand_facets_for_category(category=category),
        selected_brands=brands,
        sort=sort,
        page=page,
        links=page_links(request, page),
        grid=product_grid(request, page.items),
    )


@require_safe
@cached_page(QuerySpec())
def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """Show a product with its variants' prices and stock. Seven queries.

    Recommendations and reviews come from optional services, called in parallel with
    the price and stock queries and waited for only within PRODUCT_PAGE's budget.
    """
    product = product_detail_by_slug(slug=slug)
    if product is None:
        return _moved_or_404(request, entity="product", slug=slug, route="pages:product")
    calls = {
        "recommendations": lambda: recommendations_for_product(slug=product.slug),
        "reviews": lambda: reviews_for_product(slug=product.slug),
    }
    # Kill switches (storefront/releases.py): a switched-off widget is not even fetched.
    switched_off = {name: None for name in calls if not flag_enabled(request, name)}
    widgets = fan_out_start(
        PRODUCT_PAGE, {name: call for name, call in calls.items() if name not in switched_off}
    )
    offers = variant_offers(product.variants)
    meta = page_meta(
        request,
        title=f"{product.name} by {product.brand.name}",
        description=product.description or f"{product.name} by {product.brand.name}.",
    )
    return render_page(
        request,
        "storefront/product.html",
        meta=meta,
        product=product,
        offers=offers,
        purchasable=[offer for offer in offers if offer.purchasable],
        active_root_id=product.breadcrumbs[0].id if product.breadcrumbs else None,
        json_ld=product_json_ld(request, product=product, offers=offers),
        max_quantity=settings.CHECKOUT_MAX_LINE_QUANTITY,
        **_product_widgets(request, {**switched_off, **widgets.collect()}),
    )


def _product_widgets(request: HttpRequest, widgets: dict) -> dict:
    """The product page's widgets, re-ranked by recommendations v2 where it is on."""
    if flag_enabled(request, RECOMMENDATIONS_V2.name):
        widgets["recommendations"] = recommendations_rank_v2(widgets["recommendations"])
    return widgets


@require_safe
@cached_page(SEARCH_QUERY, pages=SEARCH_PAGES)
def search(request: HttpRequest) -> HttpResponse:
    """Show one page of search results with facets; an empty query shows an empty state.

    Six queries cold: nav tree, the read model's pool (the count, with its facet columns)
    and page, the attribute facets (cached until the read model changes; on PostgreSQL
    inside a savepoint with a statement timeout, four statements more), prices, stock.
    A forged `cursor` is a 400.
    Past the search latency budget the facets are left out and a quiet notice says so.
    """
    query = requested_query(request)
    tree = category_tree()
    filters, sort, category = requested_search(request.GET, tree=tree)
    try:
        results = search_products(
            query=query,
            filters=filters,
            sort=sort,
            cursor=request.GET.get("cursor"),
            per_page=settings.CATALOG_PAGE_SIZE,
        )
    except InvalidCursor as error:
        raise BadRequest(error.message) from None
    meta = page_meta(
        request,
        title=f"Search results for “{query[:60]}”" if query else "Search",
        description=f"Search {settings.STORE_NAME} products.",
        canonical_path=_search_path(request, query=query),
        # Result pages are endless and thin: let crawlers follow them, not index them.
        robots="noindex, follow",
    )
    return render_page(
        request,
        "storefront/search.html",
        meta=meta,
        tree=tree,
        query=query,
        results=results,
        filters=filters,
        sort=sort,
        category=category,
        facets=search_facet_groups(
            results.facets if flag_enabled(request, SEARCH_FACETS.name) else None,
            tree=tree,
            filters=filters,
            price_range=request.GET.get("price", ""),
        ),
        next_url=_with_cursor(request, results.next_cursor),
        first_url=_with_cursor(request, None) if request.GET.get("cursor") else None,
        offers=card_offers(results.items),
    )


def _search_path(request: HttpRequest, *, query: str) -> str:
    """The canonical search URL: the normalised query, nothing else."""
    return f"{request.path}?{urlencode({'q': query})}" if query else request.path


def _with_cursor(request: HttpRequest, cursor: str | None) -> str | None:
    """This search's URL at `cursor` (None: the first page), other parameters kept."""
    params = request.GET.copy()
    params.pop("cursor", None)
    if cursor:
        params["cursor"] = cursor
    return f"{request.path}?{params.urlencode()}" if params else request.path


def _ancestors(category: CategoryRef, tree: tuple[CategoryRef, ...]) -> tuple[CategoryRef, ...]:
    """Root-to-node chain, read from the tree the page already holds (no query).

    A category the cached tree does not hold yet (created a moment ago) is its own root.
    """
    return tuple(c for c in tree if category.path.startswith(c.path)) or (category,)


def _moved_or_404(request: HttpRequest, *, entity: str, slug: str, route: str) -> HttpResponse:
    """Answer an unknown slug: 301 to its current URL if it was renamed, else 404."""
    current = slug_redirect_target(entity=entity, slug=slug)
    if current is None:
        raise Http404(f"No {entity} is called {slug!r}.")
    location = reverse(route, kwargs={"slug": current})
    # As sent, tracking parameters included: the campaign lands where it was going.
    if query := request.META.get(RAW_QUERY_STRING, request.META.get("QUERY_STRING")):
        location = f"{location}?{query}"
    return HttpResponsePermanentRedirect(location)
