"""API v1, its schema and docs, and the health probes. Paths here are public contract."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularSwaggerView

from storefront import health
from storefront.api import views
from storefront.api.errors import api_not_found
from storefront.api.schema_view import SchemaView

app_name = "api"

# Slugs and tokens use toolkit.query's converters: a value they refuse (a NUL, 10,000
# characters, "²") names nothing, so it falls through to the JSON 404 `not_found` below.
# Line ids keep Django's `int` (ASCII digits; past Python's 4,300-digit limit no match):
# a well-formed id past any row is the documented `cart_line_not_found`.

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("api/v1/products/", views.ProductListView.as_view(), name="product-list"),
    path(
        "api/v1/products/<bounded_slug:slug>/",
        views.ProductDetailView.as_view(),
        name="product-detail",
    ),
    path("api/v1/categories/", views.CategoryListView.as_view(), name="category-list"),
    path("api/v1/search/", views.SearchView.as_view(), name="search"),
    path("api/v1/search/suggest/", views.SearchSuggestView.as_view(), name="search-suggest"),
    path("api/v1/carts/", views.CartCollectionView.as_view(), name="cart-list"),
    path("api/v1/carts/<url_token:token>/", views.CartDetailView.as_view(), name="cart-detail"),
    path("api/v1/carts/<url_token:token>/lines/", views.CartLinesView.as_view(), name="cart-lines"),
    path(
        "api/v1/carts/<url_token:token>/lines/<int:line_id>/",
        views.CartLineView.as_view(),
        name="cart-line",
    ),
    path(
        "api/v1/carts/<url_token:token>/coupon/", views.CartCouponView.as_view(), name="cart-coupon"
    ),
    path("api/v1/orders/", views.OrderCollectionView.as_view(), name="order-list"),
    path("api/v1/orders/<url_token:number>/", views.OrderDetailView.as_view(), name="order-detail"),
    # Last: any other path under api/ ending in a slash gets the JSON 404. Paths without
    # the slash still get CommonMiddleware's redirect to it first, as everywhere else.
    re_path(r"^api/(?:.*/)?$", api_not_found, name="not-found"),
]
