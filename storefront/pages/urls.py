"""The public page paths: public contract, users' scripts depend on them."""

from django.urls import path

from storefront.pages import seo
from storefront.pages.views import browse, cart, checkout

# Segments use toolkit.query's converters (`row_id`, `bounded_slug`, `url_token`): a value
# they refuse (too long, a NUL, a digit outside 0-9) matches no route and is a plain 404.
app_name = "pages"

urlpatterns = [
    path("", browse.home, name="home"),
    path("c/<bounded_slug:slug>/", browse.category_detail, name="category"),
    path("p/<bounded_slug:slug>/", browse.product_detail, name="product"),
    path("search/", browse.search, name="search"),
    path("cart/", cart.cart_detail, name="cart"),
    path("cart/add/", cart.cart_add, name="cart-add"),
    path("cart/lines/<row_id:line_id>/", cart.cart_line_update, name="cart-line-update"),
    path("cart/lines/<row_id:line_id>/remove/", cart.cart_line_remove, name="cart-line-remove"),
    path("cart/coupon/", cart.cart_coupon, name="cart-coupon"),
    path("checkout/", checkout.checkout, name="checkout"),
    # Order numbers are letters, digits and dashes; the converter refuses anything else
    # (a NUL byte would make PostgreSQL raise) before it reaches a query.
    path("orders/<url_token:number>/", checkout.order_detail, name="order"),
    path("robots.txt", seo.robots_txt, name="robots"),
    path(
        "sitemap.xml",
        seo.sitemap_index,
        {"sitemaps": seo.SITEMAPS, "sitemap_url_name": "pages:sitemap-section"},
        name="sitemap-index",
    ),
    path(
        "sitemap-<bounded_slug:section>.xml",
        seo.sitemap_section,
        {"sitemaps": seo.SITEMAPS},
        name="sitemap-section",
    ),
]
