"""API v1 views: parse the request, call one selector or service, render the result.

No view holds a business rule. Domain services raise DomainErrors, which
`storefront.api.errors.api_exception_handler` turns into the one error shape.
"""

import functools

from django.conf import settings
from django.http import HttpResponsePermanentRedirect, QueryDict
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.interface import (
    ProductCard,
    category_by_slug,
    product_cards_all,
    product_cards_for_category,
    slug_redirect_target,
)
from checkout.interface import (
    IdempotentOutcome,
    ShippingAddress,
    cart_add_line,
    cart_create,
    cart_remove_line,
    cart_set_coupon,
    cart_update_line,
    cart_view,
    idempotent_response,
    order_place,
    order_view,
    request_fingerprint,
)
from search.interface import (
    SearchFacets,
    SearchFilters,
    normalise_query,
    search_products,
    search_suggestions,
)
from storefront.api import serializers as s
from storefront.api.errors import (
    CategoryNotFound,
    ProductNotFound,
    error_body,
)
from storefront.api.selectors import (
    category_items,
    product_detail_item,
    product_list_items,
    product_page_path,
)
from storefront.pages.search_params import attribute_filters
from storefront.throttling import CartCreateThrottle, CartLinesThrottle, CouponAttemptThrottle
from toolkit.clients import client_key
from toolkit.errors import DomainError
from toolkit.pagination import Page, parse_page_number
from toolkit.query import url_token

PAGE_PARAMETER = OpenApiParameter(
    "page", OpenApiTypes.INT, description="1-based page number; past the end is a 404."
)


def _errors(codes_by_status: dict[int, tuple[str, ...]]) -> dict[int, OpenApiResponse]:
    """Document error responses: {status: the codes this operation can answer with}."""
    return {
        status_code: OpenApiResponse(
            response=s.ErrorSerializer,
            description="Error codes: " + ", ".join(f"`{code}`" for code in codes) + ".",
        )
        for status_code, codes in codes_by_status.items()
    }


def _validated(serializer_class: type[serializers.Serializer], data: object) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _link(request: Request, declared: type[serializers.Serializer], **changes: str) -> str:
    """This endpoint's URL with `changes`, keeping only the parameters it declares: a
    campaign's click id or a stray parameter is not handed on to the next page."""
    names = _declared_names(declared)
    params = QueryDict(mutable=True)
    for name, values in request.query_params.lists():
        if name in names:
            params.setlist(name, values)
    for name, value in changes.items():
        params[name] = value
    return f"{request.path}?{params.urlencode()}"


@functools.cache
def _declared_names(declared: type[serializers.Serializer]) -> frozenset[str]:
    """The query parameters a serializer declares (built once per class, not per link)."""
    return frozenset(declared().fields)


def _page_link(request: Request, number: int) -> str:
    return _link(request, s.ProductListQuerySerializer, page=str(number))


def _page_body(request: Request, page: Page[ProductCard]) -> dict:
    """Return a page of products with links to its neighbours, filters kept."""
    return {
        "count": page.count,
        "page": page.number,
        "num_pages": page.num_pages,
        "next": _page_link(request, page.number + 1) if page.has_next else None,
        "previous": _page_link(request, page.number - 1) if page.has_previous else None,
        "results": product_list_items(cards=page.items),
    }


class ProductListView(APIView):
    @extend_schema(
        operation_id="products_list",
        summary="List products",
        description="Popular products across the catalog, or in one category's subtree. "
        "Fixed query count whatever the page size.",
        parameters=[s.ProductListQuerySerializer, PAGE_PARAMETER],
        responses={
            200: s.ProductPageSerializer,
            **_errors({400: ("invalid_request",), 404: ("invalid_page", "category_not_found")}),
        },
        tags=["catalog"],
    )
    def get(self, request: Request) -> Response:
        query = _validated(s.ProductListQuerySerializer, request.query_params)
        page = parse_page_number(request.query_params.get("page"))
        listing = {
            "brand_slugs": query.get("brand", ()),
            "sort": query["sort"],
            "page": page,
            "per_page": settings.CATALOG_PAGE_SIZE,
        }
        if "category" in query:
            category = category_by_slug(slug=query["category"])
            if category is None:
                raise CategoryNotFound("No category has that slug.", slug=query["category"])
            cards = product_cards_for_category(category=category, **listing)
        else:
            cards = product_cards_all(**listing)
        return Response(s.ProductPageSerializer(_page_body(request, cards)).data)


class ProductDetailView(APIView):
    @extend_schema(
        operation_id="products_retrieve",
        summary="Get a product",
        description="A product with its variants' prices and stock. A slug the product "
        "used to have answers with a 301 to its current URL.",
        responses={
            200: s.ProductDetailSerializer,
            301: OpenApiResponse(description="Moved: the product has a new slug."),
            **_errors({404: ("product_not_found",)}),
        },
        tags=["catalog"],
    )
    def get(self, request: Request, slug: str) -> Response | HttpResponsePermanentRedirect:
        product = product_detail_item(slug=slug)
        if product is not None:
            return Response(s.ProductDetailSerializer(product).data)
        new_slug = slug_redirect_target(entity="product", slug=slug)
        if new_slug is None:
            raise ProductNotFound("No product has that slug.", slug=slug[:220])
        location = reverse("api:product-detail", kwargs={"slug": new_slug})
        if request.META.get("QUERY_STRING"):
            location = f"{location}?{request.META['QUERY_STRING']}"
        return HttpResponsePermanentRedirect(location)


class CategoryListView(APIView):
    @extend_schema(
        operation_id="categories_list",
        summary="List categories",
        description="The whole category tree, depth-first; each node names its parent.",
        responses={200: s.CategoryListSerializer},
        tags=["catalog"],
    )
    def get(self, request: Request) -> Response:
        return Response(s.CategoryListSerializer({"results": category_items()}).data)


class SearchView(APIView):
    @extend_schema(
        operation_id="search",
        summary="Search products",
        description="Products matching every word of `q` (each word as a prefix) and every "
        "filter, one page at a time: follow `next` (a signed cursor) for the next page. "
        "Facet counts are left out (`facets` null, `degraded` true) when the search runs "
        "past its latency budget. An empty query with no filters matches nothing.",
        parameters=[s.SearchQuerySerializer],
        responses={
            200: s.SearchPageSerializer,
            **_errors({400: ("invalid_request", "invalid_cursor"), 404: ("category_not_found",)}),
        },
        tags=["search"],
    )
    def get(self, request: Request) -> Response:
        params = _validated(s.SearchQuerySerializer, request.query_params)
        category_path = ""
        if "category" in params:
            category = category_by_slug(slug=params["category"])
            if category is None:
                raise CategoryNotFound("No category has that slug.", slug=params["category"])
            category_path = category.path
        filters = SearchFilters(
            category_path=category_path,
            brand_slugs=tuple(dict.fromkeys(params.get("brand", ()))),
            price_min=params.get("price_min"),
            price_max=params.get("price_max"),
            attributes=attribute_filters(params.get("attr", [])),
            in_stock=params["in_stock"],
        )
        results = search_products(
            query=params["q"],
            filters=filters,
            sort=params["sort"],
            cursor=params.get("cursor"),
            per_page=settings.CATALOG_PAGE_SIZE,
        )
        body = {
            "query": results.query,
            "sort": results.sort,
            "count": results.count,
            "count_capped": results.count_capped,
            "next": _cursor_link(request, results.next_cursor),
            "results": product_list_items(cards=results.items),
            "facets": _facets_body(results.facets),
            "degraded": results.degraded,
            "notices": list(results.notices),
        }
        return Response(s.SearchPageSerializer(body).data)


def _cursor_link(request: Request, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    return _link(request, s.SearchQuerySerializer, cursor=cursor)


def _facets_body(facets: SearchFacets | None) -> dict | None:
    if facets is None:
        return None
    return {
        "categories": facets.categories,
        "brands": facets.brands,
        "price_ranges": facets.price_ranges,
        "attributes": [{"name": name, "values": values} for name, values in facets.attributes],
        "in_stock": facets.in_stock,
    }


class SearchSuggestView(APIView):
    @extend_schema(
        operation_id="search_suggest",
        summary="Suggest products for a search box",
        description="Up to 8 product names for what has been typed so far, best match "
        "first. Cached briefly; an empty `q` suggests nothing.",
        parameters=[s.SuggestQuerySerializer],
        responses={200: s.SuggestionListSerializer, **_errors({400: ("invalid_request",)})},
        tags=["search"],
    )
    def get(self, request: Request) -> Response:
        query = normalise_query(_validated(s.SuggestQuerySerializer, request.query_params)["q"])
        suggestions = [
            {"name": item.name, "slug": item.slug, "url": product_page_path(item.slug)}
            for item in search_suggestions(query=query)
        ]
        body = {"query": query, "suggestions": suggestions}
        return Response(s.SuggestionListSerializer(body).data)


class CartCollectionView(APIView):
    throttle_classes = [CartCreateThrottle]

    @extend_schema(
        operation_id="carts_create",
        summary="Create a cart",
        request=None,
        responses={201: s.CartCreatedSerializer, **_errors({429: ("throttled",)})},
        tags=["carts"],
    )
    def post(self, request: Request) -> Response:
        token = cart_create()
        location = reverse("api:cart-detail", kwargs={"token": token})
        return Response(
            {"token": token}, status=status.HTTP_201_CREATED, headers={"Location": location}
        )


class CartDetailView(APIView):
    @extend_schema(
        operation_id="carts_retrieve",
        summary="Get a cart",
        description="Lines with server-side prices, promotions and stock. Fixed query "
        "count whatever the number of lines.",
        responses={200: s.CartSerializer, **_errors({404: ("cart_not_found",)})},
        tags=["carts"],
    )
    def get(self, request: Request, token: str) -> Response:
        return Response(s.CartSerializer(cart_view(token=token)).data)


class CartLinesView(APIView):
    throttle_classes = [CartLinesThrottle]

    @extend_schema(
        operation_id="carts_lines_create",
        summary="Add a line",
        description="Adds units of a SKU; a SKU already in the cart gets its quantity raised.",
        request=s.CartLineAddSerializer,
        responses={
            201: s.CartSerializer,
            **_errors(
                {
                    400: ("invalid_request", "unknown_sku", "invalid_quantity", "cart_too_large"),
                    404: ("cart_not_found",),
                    409: ("insufficient_stock", "reservation_limit", "cart_not_open"),
                    429: ("throttled",),
                }
            ),
        },
        tags=["carts"],
    )
    def post(self, request: Request, token: str) -> Response:
        line = _validated(s.CartLineAddSerializer, request.data)
        cart_add_line(
            token=token, sku=line["sku"], quantity=line["quantity"], client=client_key(request)
        )
        return Response(
            s.CartSerializer(cart_view(token=token)).data, status=status.HTTP_201_CREATED
        )


class CartLineView(APIView):
    throttle_classes = [CartLinesThrottle]  # PATCH only: a removal is never throttled

    @extend_schema(
        operation_id="carts_lines_update",
        summary="Change a line's quantity",
        request=s.CartLineUpdateSerializer,
        responses={
            200: s.CartSerializer,
            **_errors(
                {
                    400: ("invalid_request", "invalid_quantity"),
                    404: ("cart_not_found", "cart_line_not_found"),
                    409: ("insufficient_stock", "reservation_limit", "cart_not_open"),
                    429: ("throttled",),
                }
            ),
        },
        tags=["carts"],
    )
    def patch(self, request: Request, token: str, line_id: int) -> Response:
        quantity = _validated(s.CartLineUpdateSerializer, request.data)["quantity"]
        cart_update_line(
            token=token, line_id=line_id, quantity=quantity, client=client_key(request)
        )
        return Response(s.CartSerializer(cart_view(token=token)).data)

    @extend_schema(
        operation_id="carts_lines_destroy",
        summary="Remove a line",
        description="Answers with the updated cart (200, not 204) so a client needs no "
        "second request to redraw it.",
        responses={
            200: s.CartSerializer,
            **_errors({404: ("cart_not_found", "cart_line_not_found"), 409: ("cart_not_open",)}),
        },
        tags=["carts"],
    )
    def delete(self, request: Request, token: str, line_id: int) -> Response:
        cart_remove_line(token=token, line_id=line_id)
        return Response(s.CartSerializer(cart_view(token=token)).data)


class CartCouponView(APIView):
    throttle_classes = [CouponAttemptThrottle]

    @extend_schema(
        operation_id="carts_coupon_set",
        summary="Apply a coupon",
        description="Attaches a coupon code; a blank code removes it. Whether it applies "
        "(minimum spend, uses left) is reported in the cart's `coupon`.",
        request=s.CouponApplySerializer,
        responses={
            200: s.CartSerializer,
            **_errors(
                {
                    400: ("invalid_request", "invalid_coupon"),
                    404: ("cart_not_found",),
                    409: ("cart_not_open",),
                    429: ("throttled",),
                }
            ),
        },
        tags=["carts"],
    )
    def post(self, request: Request, token: str) -> Response:
        code = _validated(s.CouponApplySerializer, request.data)["code"]
        return Response(s.CartSerializer(cart_set_coupon(token=token, code=code)).data)


class OrderCollectionView(APIView):
    @extend_schema(
        operation_id="orders_create",
        summary="Place an order",
        description="Turns the cart into an order and charges it. Every amount is computed "
        "on the server; prices or totals in the body are ignored. A retry with the same "
        "`Idempotency-Key` for the same cart answers with the first order and never "
        "charges twice.",
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="A unique value per order attempt (e.g. a UUID), at most 255 "
                "characters. Reuse it when retrying the same attempt.",
            )
        ],
        request=s.OrderCreateSerializer,
        responses={
            201: s.OrderSerializer,
            **_errors(
                {
                    400: (
                        "invalid_request",
                        "idempotency_key_missing",
                        "idempotency_key_invalid",
                        "cart_empty",
                        "unknown_shipping_method",
                    ),
                    402: ("payment_declined",),
                    404: ("cart_not_found",),
                    409: (
                        "insufficient_stock",
                        "cart_not_open",
                        "cart_not_purchasable",
                        "coupon_unavailable",
                        "idempotency_request_in_flight",
                    ),
                    422: ("idempotency_key_reused",),
                    503: ("payment_unavailable",),
                }
            ),
        },
        tags=["orders"],
    )
    def post(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key", "")  # blank is refused like missing
        order = _validated(s.OrderCreateSerializer, request.data)
        answer = idempotent_response(
            scope=f"cart:{order['cart']}",
            key=key,
            fingerprint=request_fingerprint(order),
            produce=lambda: _order_place_answer(key=key.strip(), order=order),
        )
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
        if answer.status == status.HTTP_201_CREATED:
            headers["Location"] = reverse(
                "api:order-detail", kwargs={"number": answer.body["number"]}
            )
        return Response(answer.body, status=answer.status, headers=headers)


def _order_place_answer(*, key: str, order: dict) -> IdempotentOutcome:
    """Place the order and return the answer, failures included.

    A declined payment is an answer to store and replay, not a fault, so domain errors
    become their error body here rather than propagating to the exception handler. An
    order whose payment is still pending is not settled: a retry reads it again.
    """
    try:
        placed = order_place(
            cart_token=order["cart"],
            idempotency_key=key,
            email=order["email"],
            shipping_address=ShippingAddress(**order["shipping_address"]),
            shipping_method=order["shipping_method"],
            payment_token=order["payment_token"],
        )
    except DomainError as error:
        return IdempotentOutcome(error.status, error_body(error.code, error.message, error.details))
    return IdempotentOutcome(
        status.HTTP_201_CREATED, s.OrderSerializer(placed).data, settled=placed.status == "paid"
    )


class OrderDetailView(APIView):
    @extend_schema(
        operation_id="orders_retrieve",
        summary="Get an order",
        description="Only for whoever holds the order token; anyone else gets a 404, so "
        "order numbers cannot be probed.",
        parameters=[
            OpenApiParameter("token", OpenApiTypes.STR, description="The order access token."),
            OpenApiParameter(
                "X-Order-Token",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The order access token, kept out of URLs and logs.",
            ),
        ],
        responses={200: s.OrderSerializer, **_errors({404: ("order_not_found",)})},
        tags=["orders"],
    )
    def get(self, request: Request, number: str) -> Response:
        token = request.headers.get("X-Order-Token") or request.query_params.get("token", "")
        try:
            token = url_token(token)
        except ValueError:
            token = ""  # not a token the store issues (a NUL, 10,000 characters): no order
        return Response(s.OrderSerializer(order_view(number=number, access_token=token)).data)
